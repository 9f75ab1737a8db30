#!/usr/bin/env bash
# A real PostgreSQL for tests and for trying several servers on one machine: Debian's server
# binaries, a throw-away cluster on 127.0.0.1 owned by the `postgres` user (PostgreSQL refuses to
# run as root), trust authentication on loopback only. Test-only: fsync off.
#
#   scripts/postgres.sh install   apt package (postgresql)
#   scripts/postgres.sh start     start it (idempotent), wait until it answers
#   scripts/postgres.sh env       print the MAGS_TEST_POSTGRES_URL export for the tests
#   scripts/postgres.sh stop      stop it and remove its directory
set -euo pipefail

dir=${MAGS_POSTGRES_DIR:-/tmp/mags-postgres}
port=${MAGS_POSTGRES_PORT:-5433}
url="postgres://postgres@127.0.0.1:$port/postgres"

bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$found" ] || { echo "postgres: not installed: run $0 install" >&2; exit 1; }
  echo "$found"
}

install() {
  if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

answering() { as_postgres "$(bin)/pg_isready" -q -h 127.0.0.1 -p "$port"; }

start() {
  local b
  b=$(bin)
  if answering; then echo "postgres: already running on 127.0.0.1:$port"; return; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_postgres "$b/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log"
  as_postgres "$b/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
  answering || { echo "postgres: did not start; see $dir/server.log" >&2; exit 1; }
  echo "postgres: running on 127.0.0.1:$port ($url)"
}

stop() {
  if [ -d "$dir/data" ]; then as_postgres "$(bin)/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  env) echo "export MAGS_TEST_POSTGRES_URL=$url" ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|env|stop" >&2; exit 2 ;;
esac
