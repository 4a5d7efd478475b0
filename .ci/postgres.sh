#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the test suite. Prints its admin URI on the first line
# of stdout and the command that stops it on the second.
# Installs Debian's postgresql package when no server binaries are on the machine.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "installing postgresql from Debian's packages" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
port=${SHIPYARD_PG_PORT:-55432}
dir=$(mktemp -d /tmp/shipyard-pg.XXXXXX)
run_as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$dir"
  run_as=(runuser -u postgres --)
fi
"${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >&2
"${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
echo "${run_as[*]} $bindir/pg_ctl -D $dir/data -m fast stop"
