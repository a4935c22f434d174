#!/bin/sh
# Make a self-signed certificate: generate-cert.sh DIR [HOSTNAME]
# Writes DIR/cert.pem and DIR/key.pem, valid for localhost, 127.0.0.1, ::1 and HOSTNAME.
# Also usable on a workstation: sh docker/nginx/generate-cert.sh ./certs inventory.home.arpa
set -eu
dir="${1:?usage: generate-cert.sh DIR [HOSTNAME]}"
name="${2:-localhost}"
sans="DNS:localhost,IP:127.0.0.1,IP:::1"
[ "$name" = "localhost" ] || sans="DNS:${name},${sans}"
mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
    -subj "/CN=${name}" -addext "subjectAltName=${sans}" \
    -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" 2>/dev/null
mv "$dir/key.pem.tmp" "$dir/key.pem"
chmod 0644 "$dir/cert.pem.tmp"
mv "$dir/cert.pem.tmp" "$dir/cert.pem"
echo "generate-cert.sh: self-signed certificate for ${name} (${sans}) in ${dir}"
