#!/usr/bin/env bash
# PostgreSQL for local runs and tests: Debian's `postgresql` package, one private cluster on
# loopback, password (SCRAM) authentication for the `anbao` superuser.
# Usage: deploy/local/postgres.sh start|stop|status|env
# Installs the package with apt-get when missing (the test command's job is to install what the
# tests need). Under root the cluster runs as the `postgres` OS user from /var/lib/anbao-pg;
# otherwise as the caller from ~/.cache/anbao/pg. Its port (55432) keeps clear of a distro
# cluster on 5432. The password is random, made once and kept (mode 0600) beside the data.
source "$(dirname "$0")/lib.sh"

PG_PORT="${ANBAO_POSTGRES_PORT:-55432}"
PG_USER=anbao
TIMEOUT="${ANBAO_POSTGRES_TIMEOUT:-60}"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
    PG_BASE="${ANBAO_POSTGRES_BASE:-/var/lib/anbao-pg}"
    RUN_AS=(runuser -u postgres --)
else
    PG_BASE="${ANBAO_POSTGRES_BASE:-$ANBAO_CACHE/pg}"
fi
PG_DATA="$PG_BASE/data"
LOGFILE="$PG_BASE/postgres.log"
SECRETS="$PG_BASE/anbao-user.env"

# bindir: the newest installed server's bin directory; installs Debian's package if none.
bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] || [ ! -x "$dir/pg_ctl" ]; then
        [ "$(id -u)" = 0 ] || die "PostgreSQL is not installed; run as root or: apt-get install postgresql"
        log "installing Debian's postgresql package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2 \
            || die "apt-get install postgresql failed"
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$dir"
}

password() {
    if [ ! -s "$SECRETS" ]; then
        (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$SECRETS")
    fi
    cat "$SECRETS"
}

# ready: the cluster answers on loopback (never installs anything: `status` must be cheap).
ready() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && "$dir/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

init_cluster() {
    local bin="$1" pwfile
    mkdir -p "$PG_BASE"
    password >/dev/null
    [ -s "$PG_DATA/PG_VERSION" ] && return 0
    log "initialising a cluster in $PG_DATA"
    rm -rf "$PG_DATA"
    mkdir -p "$PG_DATA"
    pwfile="$PG_BASE/.pwfile"
    (umask 077; cat "$SECRETS" > "$pwfile")
    if [ "${#RUN_AS[@]}" -gt 0 ]; then chown -R postgres:postgres "$PG_BASE"; fi
    "${RUN_AS[@]}" "$bin/initdb" -D "$PG_DATA" -U "$PG_USER" --pwfile="$pwfile" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >&2 \
        || { rm -f "$pwfile"; die "initdb failed"; }
    rm -f "$pwfile"
    cat >> "$PG_DATA/postgresql.conf" <<CONF
# anbao local cluster: loopback only, private socket directory
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_BASE'
max_connections = 100
fsync = on
CONF
}

start() {
    local bin
    bin=$(bindir)
    if ready; then log "PostgreSQL already running on 127.0.0.1:$PG_PORT"; return 0; fi
    init_cluster "$bin"
    if [ "${#RUN_AS[@]}" -gt 0 ]; then chown -R postgres:postgres "$PG_BASE"; fi
    log "starting PostgreSQL ($bin) on 127.0.0.1:$PG_PORT"
    if ! "${RUN_AS[@]}" "$bin/pg_ctl" -D "$PG_DATA" -l "$LOGFILE" -w -t "$TIMEOUT" start >&2; then
        log "PostgreSQL did not start; last lines of $LOGFILE:"
        tail -n 40 "$LOGFILE" >&2 || true
        return 1
    fi
    ready || { tail -n 40 "$LOGFILE" >&2; die "started but pg_isready fails"; }
    log "PostgreSQL ready"
}

stop() {
    local bin
    bin=$(bindir)
    if [ ! -s "$PG_DATA/postmaster.pid" ]; then log "PostgreSQL not running"; return 0; fi
    "${RUN_AS[@]}" "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >&2
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) ready ;;
    env)
        pw=$(password)
        printf 'POSTGRES_URL=postgresql://%s:%s@127.0.0.1:%s/postgres\n' "$PG_USER" "$pw" "$PG_PORT"
        printf 'POSTGRES_HOST=127.0.0.1\nPOSTGRES_PORT=%s\nPOSTGRES_USER=%s\nPOSTGRES_PASSWORD=%s\n' \
            "$PG_PORT" "$PG_USER" "$pw"
        ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
