#!/usr/bin/env bash
# Throw-away Redis and PostgreSQL servers on loopback, for tests, benchmarks and development.
#
#   scripts/services.sh start            both servers, on ports 6390 and 5440 (or
#                                        $IDEMTRACK_REDIS_PORT, $IDEMTRACK_POSTGRES_PORT), data in
#                                        /tmp/idemtrack-services-<checkout>/; prints the
#                                        `export IDEMTRACK_REDIS_URL=… IDEMTRACK_POSTGRES_URL=…`
#                                        lines to eval
#   scripts/services.sh stop             stops them and deletes their data
#   scripts/services.sh redis start|halt|stop DIR PORT     one Redis server with its data in DIR
#   scripts/services.sh postgres start|halt|stop DIR PORT  one PostgreSQL cluster in DIR
#                                        (halt: stops it at once, as a crash would, keeping DIR
#                                        so that start brings it back; stop also deletes DIR)
#   scripts/services.sh install          installs Debian's redis-server and postgresql when missing (root)
#   scripts/services.sh available        exits 0 when both servers can be started here
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user (made by
# Debian's package). Authentication is `trust` on loopback only; the data is deleted on stop.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Under /tmp, which PostgreSQL's own user can reach wherever the checkout is; one per checkout.
state="/tmp/idemtrack-services-$(printf '%s' "$root" | cksum | cut -d' ' -f1)"
redis_port=${IDEMTRACK_REDIS_PORT:-6390}
postgres_port=${IDEMTRACK_POSTGRES_PORT:-5440}

pg_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/bin; do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
      echo "$dir"
      return
    fi
  done
  return 1
}

# Runs a command as the owner of PostgreSQL's files: root hands it to `postgres`.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

install() {
  local missing=()
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  pg_bin >/dev/null || missing+=(postgresql)
  [ ${#missing[@]} = 0 ] && return
  apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
}

available() {
  command -v redis-server >/dev/null 2>&1 && pg_bin >/dev/null &&
    { [ "$(id -u)" != 0 ] || id postgres >/dev/null 2>&1; }
}

wait_for() { # what, attempts, command…
  local what=$1 attempts=$2
  shift 2
  for _ in $(seq "$attempts"); do
    "$@" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "services.sh: $what did not come up" >&2
  return 1
}

redis_ping() { # port
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'PING\r\n' >&3
  local answer
  read -r -t 1 answer <&3 || true
  exec 3>&-
  [ "${answer%$'\r'}" = "+PONG" ]
}

redis() { # start|stop DIR PORT
  local action=$1 dir=$2 port=${3:-}
  case "$action" in
  start)
    if redis_ping "$port" 2>/dev/null; then
      echo "services.sh: port $port already answers: stop that server or choose another port" >&2
      return 1
    fi
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --save '' --appendonly no \
      --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    wait_for "Redis on port $port" 100 redis_ping "$port"
    ;;
  halt | stop)
    if [ -f "$dir/redis.pid" ]; then
      local pid
      pid=$(cat "$dir/redis.pid")
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      rm -f "$dir/redis.pid"
    fi
    [ "$action" = halt ] || rm -rf "$dir"
    ;;
  esac
}

postgres() { # start|stop DIR PORT
  local action=$1 dir=$2 port=${3:-} bin
  bin=$(pg_bin)
  case "$action" in
  start)
    if [ ! -d "$dir/data" ]; then
      mkdir -p "$dir"
      if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
      as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    fi
    # fsync off: throw-away data need not survive the machine, only a killed server (commits stay
    # synchronous, so a committed event is never lost when a test kills PostgreSQL).
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 -o \
      "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null
    ;;
  halt | stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    [ "$action" = halt ] || rm -rf "$dir"
    ;;
  esac
}

case "${1:-}" in
start)
  install
  "$0" stop >/dev/null 2>&1 || true
  redis start "$state/redis" "$redis_port"
  postgres start "$state/postgres" "$postgres_port"
  echo "export IDEMTRACK_REDIS_URL=redis://127.0.0.1:$redis_port"
  echo "export IDEMTRACK_POSTGRES_URL=postgres://postgres@127.0.0.1:$postgres_port/postgres"
  ;;
stop)
  redis stop "$state/redis"
  postgres stop "$state/postgres"
  rm -rf "$state"
  ;;
redis | postgres)
  "$1" "${2:?start, halt or stop}" "${3:?a directory}" "${4:-}"
  ;;
install) install ;;
available) available ;;
*)
  echo "usage: $0 start|stop|install|available|redis|postgres start|halt|stop DIR [PORT]" >&2
  exit 2
  ;;
esac
