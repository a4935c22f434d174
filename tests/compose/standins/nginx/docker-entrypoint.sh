#!/bin/sh
# As the official image: run the executable /docker-entrypoint.d/*.sh before nginx starts.
set -e
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    for f in $(find /docker-entrypoint.d/ -follow -type f -name '*.sh' | sort -V); do
        if [ -x "$f" ]; then
            echo "$0: launching $f"
            "$f"
        fi
    done
fi
exec "$@"
