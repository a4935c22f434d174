#!/bin/sh
# Gather PostgreSQL's pg_dump, pg_restore and psql with the shared libraries they load into
# DEST, runnable from any Debian-based image: DEST/bin holds wrappers that point the loader
# at DEST/lib. glibc's own libraries stay behind (the app image has a glibc at least as new).
set -eu
dest=${1:?usage: collect.sh DEST}
mkdir -p "$dest/bin" "$dest/libexec" "$dest/lib"
for tool in pg_dump pg_restore psql; do
  # The real binary: Debian's /usr/bin/psql is a wrapper script that picks a version.
  path=$(command -v "$tool")
  for candidate in /usr/lib/postgresql/*/bin/"$tool"; do
    if [ -x "$candidate" ]; then path=$candidate; fi
  done
  cp "$path" "$dest/libexec/$tool"
  ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
    case $(basename "$lib") in
      libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libresolv.so.*|ld-linux*) ;;
      *) cp -L "$lib" "$dest/lib/" ;;
    esac
  done
  printf '#!/bin/sh\nLD_LIBRARY_PATH=%s/lib exec %s/libexec/%s "$@"\n' "$dest" "$dest" "$tool" \
    > "$dest/bin/$tool"
  chmod 755 "$dest/bin/$tool"
done
"$dest/bin/pg_dump" --version
