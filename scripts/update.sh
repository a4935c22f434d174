#!/usr/bin/env bash
# Roll the app service to its current image and settings without downtime:
#   1. start as many new replicas beside the running ones (they migrate the schema on start,
#      after an automatic backup when a migration is pending),
#   2. wait until every new replica is healthy, and until nginx has seen them in DNS,
#   3. stop the old replicas gracefully (Gunicorn finishes the requests it has).
# If a new replica never becomes healthy, it is removed and the old ones keep serving.
#
# Usage: scripts/update.sh [--build | --pull]
#   --build   rebuild the app image from this checkout first
#   --pull    pull the app image from its registry first
# Run it from the project folder; COMPOSE_FILE, COMPOSE_PROJECT_NAME and .env are honoured as
# by `docker compose` itself, e.g. COMPOSE_FILE=docker-compose.yml:docker-compose.prod.yml.
set -euo pipefail

SERVICE=inventory-app
HEALTHY_WITHIN=${UPDATE_HEALTHY_WITHIN:-180}  # seconds a new replica gets to become healthy
DNS_SETTLE=11  # nginx asks Docker's DNS again after `resolver ... valid=10s` (default.conf)
STOP_GRACE=30  # seconds Gunicorn gets to finish in-flight requests

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  else
    docker-compose "$@"
  fi
}

health() { docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }

wait_healthy() {
  local deadline=$((SECONDS + HEALTHY_WITHIN)) container state
  for container in "$@"; do
    while true; do
      state=$(health "$container")
      [ "$state" = healthy ] && break
      if [ "$state" = unhealthy ] || [ "$state" = exited ] || [ $SECONDS -ge $deadline ]; then
        echo "replica ${container:0:12} is $state" >&2
        return 1
      fi
      sleep 2
    done
  done
}

case "${1:-}" in
  --build) compose build "$SERVICE" ;;
  --pull) compose pull "$SERVICE" ;;
  "") ;;
  -h|--help) usage; exit 0 ;;
  *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
esac

mapfile -t old < <(compose ps -q "$SERVICE")
if [ ${#old[@]} -eq 0 ]; then
  echo "$SERVICE is not running: start the stack with 'docker compose up -d'" >&2
  exit 1
fi
replicas=${#old[@]}

echo "starting $replicas new replica(s) beside the running one(s)"
compose up -d --no-deps --no-recreate --scale "$SERVICE=$((replicas * 2))" "$SERVICE"
mapfile -t new < <(compose ps -q "$SERVICE" | grep -v -x -F -f <(printf '%s\n' "${old[@]}"))

if ! wait_healthy "${new[@]}"; then
  echo "the new replicas are not healthy; removing them (the old ones keep serving):" >&2
  docker logs --tail 40 "${new[0]}" >&2 || true
  docker rm -f "${new[@]}" >/dev/null
  exit 1
fi

echo "new replicas healthy; letting nginx find them"
sleep "$DNS_SETTLE"

echo "stopping the old replica(s)"
docker stop --time "$STOP_GRACE" "${old[@]}" >/dev/null
docker rm "${old[@]}" >/dev/null
echo "updated: $(compose ps -q "$SERVICE" | wc -l) replica(s) of $SERVICE serving"
