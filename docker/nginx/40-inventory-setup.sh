#!/bin/sh
# Runs before nginx starts (official image: /docker-entrypoint.d/).
# 1. A certificate in /etc/nginx/ssl (the ssl_data volume): the operator's own cert.pem +
#    key.pem when present, else a self-signed one made once on first start.
# 2. Settings from the environment that nginx cannot read itself.
set -eu
ssl=/etc/nginx/ssl
if [ ! -s "$ssl/cert.pem" ] || [ ! -s "$ssl/key.pem" ]; then
    /usr/local/bin/generate-cert.sh "$ssl" "${SERVER_NAME:-localhost}"
fi

# Whole requests carry up to 10 photos of MAX_UPLOAD_MB each (the app's own request limit).
mb="${MAX_UPLOAD_MB:-20}"
port="${HTTPS_PORT:-443}"
suffix=""
[ "$port" = "443" ] || suffix=":$port"
cat > /etc/nginx/conf.d/00-runtime.conf <<CONF
# Written at start from the environment by 40-inventory-setup.sh.
client_max_body_size $(( (mb + 1) * 10 ))m;
map \$host \$https_port_suffix { default "$suffix"; }
CONF
