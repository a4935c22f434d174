#!/usr/bin/env bash
# Move a Raspberry Pi install of Inventory (venv + Gunicorn + local PostgreSQL) into the Docker
# stack or a local install: database, photos, model cache and settings, then compare counts.
# The work is done by the app's own `inventory migrate from-pi`; this script moves files.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PI_ENV_PY="$ROOT/src/inventory/operations/pi_env.py"

usage() {
  cat <<'EOF'
Usage:
  scripts/migrate-from-pi.sh [options] [USER@]PI_HOST     copy everything from the Pi over SSH
  scripts/migrate-from-pi.sh [options] --dump FILE [--images DIR] [--ml-cache DIR] [--env FILE]
                                                          use files already copied off the Pi

Takes `pg_dump -Fc` of the Pi's inventory_db (run on the Pi), its photos and model cache,
converts its environment.env into the stack's .env (POSTGRES_HOST -> postgres, paths to the
container's, secrets kept and never printed), restores into the target, makes the search
vectors if the model changed and prints a Pi/here count comparison. Exits non-zero when the
counts differ or anything fails.

Target:
  --target docker|local   docker (default): the compose stack in --project-dir, through
                          `inventory ...` run in the app service's first container;
                          local: run `inventory` here (embedded PostgreSQL or POSTGRES_HOST)
  --project-dir DIR       where docker-compose.yml is (default: this checkout)
  --compose "CMD"         compose command (default: `docker compose`, else `docker-compose`),
                          e.g. "docker compose -f docker-compose.yml -f docker-compose.prod.yml"
  --service NAME          the app service (default: inventory-app)
  --inventory "CMD"       local target: the inventory command (default: inventory)
  --env-out FILE          where the converted .env goes (docker default: PROJECT_DIR/.env;
                          an existing file is kept and the new one written to FILE.from-pi)
  --force                 replace data already in the target (it is backed up first)
  --no-ml-cache           do not copy the Pi's model cache
  --no-reindex            leave the search vectors for `inventory search reindex`
  --workdir DIR           stage files here and keep them (default: a temporary folder)

On the Pi (SSH mode):
  --pi-images DIR         default /var/lib/inventory/images
  --pi-ml-cache DIR       default /var/lib/inventory/ml_cache
  --pi-env FILE           default /var/lib/inventory/config/environment.env
  --pi-dump-command "CMD" run this on the Pi instead of pg_dump with the env file's settings;
                          it must write a custom-format dump to stdout
                          (e.g. "sudo -u postgres pg_dump -Fc inventory_db")
  --ssh-port N  --ssh-identity FILE  --ssh-option OPTION (repeatable, as ssh -o)

  -h, --help              this text
EOF
}

say() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 2; }

target=docker
project_dir="$ROOT"
compose_cmd=""
service=inventory-app
inventory_cmd=inventory
env_out=""
force=0
copy_ml_cache=1
reindex=1
workdir=""
pi_images=/var/lib/inventory/images
pi_ml_cache=/var/lib/inventory/ml_cache
pi_env=/var/lib/inventory/config/environment.env
pi_dump_command=""
ssh_opts=()
host=""
dump=""
images=""
ml_cache=""
env_file=""

need_value() { [[ $# -ge 2 && -n "$2" ]] || fail "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --target) need_value "$@"; target="$2"; shift 2 ;;
    --project-dir) need_value "$@"; project_dir="$2"; shift 2 ;;
    --compose) need_value "$@"; compose_cmd="$2"; shift 2 ;;
    --service) need_value "$@"; service="$2"; shift 2 ;;
    --inventory) need_value "$@"; inventory_cmd="$2"; shift 2 ;;
    --env-out) need_value "$@"; env_out="$2"; shift 2 ;;
    --force) force=1; shift ;;
    --no-ml-cache) copy_ml_cache=0; shift ;;
    --no-reindex) reindex=0; shift ;;
    --workdir) need_value "$@"; workdir="$2"; shift 2 ;;
    --pi-images) need_value "$@"; pi_images="$2"; shift 2 ;;
    --pi-ml-cache) need_value "$@"; pi_ml_cache="$2"; shift 2 ;;
    --pi-env) need_value "$@"; pi_env="$2"; shift 2 ;;
    --pi-dump-command) need_value "$@"; pi_dump_command="$2"; shift 2 ;;
    --ssh-port) need_value "$@"; ssh_opts+=(-p "$2"); shift 2 ;;
    --ssh-identity) need_value "$@"; ssh_opts+=(-i "$2"); shift 2 ;;
    --ssh-option) need_value "$@"; ssh_opts+=(-o "$2"); shift 2 ;;
    --dump) need_value "$@"; dump="$2"; shift 2 ;;
    --images) need_value "$@"; images="$2"; shift 2 ;;
    --ml-cache) need_value "$@"; ml_cache="$2"; shift 2 ;;
    --env) need_value "$@"; env_file="$2"; shift 2 ;;
    -*) fail "unknown option $1 (see --help)" ;;
    *) [[ -z "$host" ]] || fail "more than one Pi host given ($host, $1)"; host="$1"; shift ;;
  esac
done

case "$target" in docker|local) ;; *) fail "--target must be docker or local, not $target" ;; esac
if [[ -n "$host" && -n "$dump" ]]; then
  fail "give either a Pi host (SSH) or --dump FILE (local files), not both"
fi
if [[ -z "$host" && -z "$dump" ]]; then
  fail "no Pi host and no --dump FILE given (see --help)"
fi
if [[ -n "$dump" ]]; then
  [[ -f "$dump" ]] || fail "the dump $dump does not exist"
  [[ -z "$images" || -d "$images" ]] || fail "the images folder $images does not exist"
  [[ -z "$ml_cache" || -d "$ml_cache" ]] || fail "the model cache folder $ml_cache does not exist"
  [[ -z "$env_file" || -f "$env_file" ]] || fail "the env file $env_file does not exist"
fi
command -v python3 >/dev/null || fail "python3 is needed on this machine (to convert the .env)"

# ---- the staging folder -------------------------------------------------------------------
keep_workdir=1
if [[ -z "$workdir" ]]; then
  workdir="$(mktemp -d "${TMPDIR:-/tmp}/pi-migration.XXXXXX")"
  keep_workdir=0
fi
mkdir -p "$workdir"
chmod 700 "$workdir"
staging="$workdir/staging"
mkdir -p "$staging/images" "$staging/ml_cache"
ssh_dir=""
container_staging=""
container=""

# shellcheck disable=SC2317,SC2329 # called by the EXIT trap
cleanup() {
  local status=$?
  if [[ -n "$container_staging" ]]; then
    docker exec "$container" rm -rf "$container_staging" >/dev/null 2>&1 || true
  fi
  if [[ -n "$ssh_dir" ]]; then
    ssh -o ControlPath="$ssh_dir/control" -O exit "$host" >/dev/null 2>&1 || true
    rm -rf "$ssh_dir"
  fi
  if [[ $keep_workdir -eq 0 ]]; then
    rm -rf "$workdir"
  fi
  exit "$status"
}
trap cleanup EXIT

compose() {
  # shellcheck disable=SC2086 # the compose command is words on purpose
  (cd "$project_dir" && $compose_cmd "$@")
}

# ---- fetch from the Pi --------------------------------------------------------------------
# shellcheck disable=SC2029 # the remote commands are built (and quoted) here on purpose
pi() { ssh "${ssh_opts[@]}" "$host" "$@"; }

remote_copy() {  # remote_copy REMOTE_DIR LOCAL_DIR WHAT
  local quoted
  quoted="$(printf '%q' "$1")"
  if ! pi "test -d $quoted"; then
    printf 'warning: the Pi has no %s folder at %s; nothing copied\n' "$3" "$1" >&2
    return 0
  fi
  if command -v rsync >/dev/null && pi "command -v rsync >/dev/null"; then
    local rsh
    rsh="ssh$(printf ' %q' "${ssh_opts[@]}")"
    rsync -a --delete -e "$rsh" "$host:$1/" "$2/"
  else
    pi "tar -C $quoted -cf - ." | tar -C "$2" -xf -
  fi
}

if [[ -n "$host" ]]; then
  command -v ssh >/dev/null || fail "ssh is not installed here"
  ssh_dir="$(mktemp -d "${TMPDIR:-/tmp}/pi-ssh.XXXXXX")"
  # One connection for every step: one password prompt at most.
  ssh_opts+=(-o ControlMaster=auto -o "ControlPath=$ssh_dir/control" -o ControlPersist=300
             -o ConnectTimeout=15)
  say "connecting to $host"
  if ! reach_error="$(pi true 2>&1)"; then
    fail "cannot reach $host over SSH: ${reach_error##*$'\n'}"
  fi
  env_file="$workdir/environment.env"
  if pi "test -r $(printf '%q' "$pi_env")"; then
    say "fetching $pi_env"
    (umask 077 && pi "cat $(printf '%q' "$pi_env")" >"$env_file")
  else
    printf 'warning: no readable %s on the Pi; the database settings default to the Pi'"'"'s\n' \
      "$pi_env" >&2
    env_file=""
  fi
  say "dumping the Pi's database (pg_dump -Fc, on the Pi)"
  dump="$staging/database.dump"
  if [[ -n "$pi_dump_command" ]]; then
    pi "$pi_dump_command" >"$dump" || fail "the dump command failed on the Pi: $pi_dump_command"
  else
    pi "command -v pg_dump >/dev/null" \
      || fail "pg_dump is not installed on the Pi (apt install postgresql-client)"
    # The settings (password included) go over SSH's stdin: on no command line, anywhere.
    libpq=""
    if [[ -n "$env_file" ]]; then
      libpq="$(python3 "$PI_ENV_PY" libpq "$env_file")" || fail "cannot read $pi_env"
    fi
    # shellcheck disable=SC2016 # expanded on the Pi, not here
    printf '%s\n' "$libpq" \
      | pi 'while IFS= read -r line; do [ -n "$line" ] && export "$line"; done;
            exec pg_dump -Fc --no-owner --no-privileges' >"$dump" \
      || fail "pg_dump failed on the Pi (see its message above)"
  fi
  say "copying photos from $pi_images"
  remote_copy "$pi_images" "$staging/images" "images"
  if [[ $copy_ml_cache -eq 1 ]]; then
    say "copying the model cache from $pi_ml_cache"
    remote_copy "$pi_ml_cache" "$staging/ml_cache" "ml_cache"
  fi
else
  say "using local files"
  cp "$dump" "$staging/database.dump"
  if [[ -n "$images" ]]; then cp -R "$images/." "$staging/images/"; fi
  if [[ -n "$ml_cache" && $copy_ml_cache -eq 1 ]]; then cp -R "$ml_cache/." "$staging/ml_cache/"; fi
fi
[[ -s "$staging/database.dump" ]] || fail "the Pi's dump is empty"

# ---- the .env -----------------------------------------------------------------------------
if [[ -z "$env_out" && "$target" == docker ]]; then
  env_out="$project_dir/.env"
fi
fresh_env=0
if [[ -n "$env_file" && -n "$env_out" ]]; then
  if [[ -e "$env_out" ]]; then
    printf 'note: %s exists and is kept (the stack'"'"'s database password is in it); ' "$env_out" >&2
    printf 'the Pi'"'"'s converted settings go to %s.from-pi\n' "$env_out" >&2
    python3 "$PI_ENV_PY" convert "$env_file" "$env_out.from-pi" >&2
  else
    python3 "$PI_ENV_PY" convert "$env_file" "$env_out" >&2
    fresh_env=1
  fi
elif [[ -z "$env_file" ]]; then
  say "no Pi environment.env: no .env written"
fi

# ---- restore into the target --------------------------------------------------------------
args=(migrate from-pi)
[[ $force -eq 1 ]] && args+=(--force)
[[ $reindex -eq 0 ]] && args+=(--no-reindex)

status=0
if [[ "$target" == local ]]; then
  say "restoring into the local install ($inventory_cmd)"
  # shellcheck disable=SC2086 # the inventory command may be words (python -m inventory)
  $inventory_cmd "${args[@]}" "$staging" || status=$?
else
  if [[ -z "$compose_cmd" ]]; then
    if docker compose version >/dev/null 2>&1; then
      compose_cmd="docker compose"
    elif command -v docker-compose >/dev/null; then
      compose_cmd="docker-compose"
    else
      fail "neither \`docker compose\` nor \`docker-compose\` is installed"
    fi
  fi
  [[ -f "$project_dir/docker-compose.yml" ]] || fail "no docker-compose.yml in $project_dir"
  # Everything runs in the first replica, by id: after a rolling update there is no
  # container #1, which is where Compose 1.29's `exec` looks.
  container="$( (compose ps -q "$service" 2>/dev/null || true) | head -n 1)"
  if [[ -z "$container" ]]; then
    [[ $fresh_env -eq 1 ]] \
      || fail "the $service service is not running: start the stack (docker compose up -d)"
    say "starting the stack with the new .env"
    compose up -d >&2
    container="$(compose ps -q "$service" | head -n 1)"
  fi
  say "waiting for $service to be healthy"
  for _ in $(seq 180); do
    health="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$container" 2>/dev/null || true)"
    [[ "$health" == healthy || "$health" == running ]] && break
    sleep 2
  done
  [[ "$health" == healthy || "$health" == running ]] \
    || fail "$service did not become healthy (state: ${health:-unknown}); see: docker compose logs $service"
  # Inside the images volume: writable even with a read-only root, and moving photos from
  # there into the store is a rename. Streamed as tar, so the files belong to the app's user.
  container_staging="/var/lib/inventory/images/.pi-migration-$$"
  say "copying the staged files into $service"
  docker exec "$container" mkdir -p "$container_staging"
  tar -C "$staging" -cf - . | docker exec -i "$container" tar -C "$container_staging" -xf -
  say "restoring into the stack"
  docker exec "$container" inventory "${args[@]}" "$container_staging" || status=$?
fi

case $status in
  0) say "done: the counts match" ;;
  1) printf 'error: the counts differ (see the table above)\n' >&2 ;;
  *) printf 'error: the migration failed (see the message above)\n' >&2 ;;
esac
exit "$status"
