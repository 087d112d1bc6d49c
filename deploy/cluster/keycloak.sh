#!/usr/bin/env bash
# Clustered Keycloak on loopback (issue 20, groundwork): two production-mode nodes on the shared
# PostgreSQL of deploy/local/postgres.sh, clustered through Keycloak's default jdbc-ping stack,
# HTTPS with a certificate from a local CA made at first start, and HAProxy (Debian's package,
# run as the caller, not as a system service) in front of both on https://127.0.0.1:8453.
# Usage: deploy/cluster/keycloak.sh up|down|status|env
#   up      CA and certificate (once), database keycloak_cluster (once), unpack and `kc.sh build`
#           (once), start node 1, then node 2, then HAProxy; each waits for health
#   down    stop HAProxy and both nodes (only what `up` started, by PID file)
#   status  each node's health, HAProxy's, and whether the cluster view has both members
#   env     the load balancer's URL, the CA file, the bootstrap admin's credentials and the
#           state directory (PID files, logs, HAProxy's admin socket)
# The dev Keycloak of deploy/local (8080) is not touched: this uses its own copy of the
# distribution and its own state directory (~/.cache/anbao/cluster).
source "$(dirname "$0")/lib.sh"

KC_HOME="$CL_STATE/keycloak-$KEYCLOAK_VERSION"
SECRETS="$CL_STATE/keycloak-admin.env"
HAPROXY_CFG="$CL_STATE/haproxy.cfg"
HAPROXY_PID="$CL_STATE/haproxy.pid"
HAPROXY_LOG="$CL_STATE/haproxy.log"
LB_PORT="${ANBAO_CLUSTER_LB_PORT:-8453}"
DB_NAME=keycloak_cluster
TIMEOUT="${ANBAO_KEYCLOAK_TIMEOUT:-300}"
NODES=(1 2)

# Per node N (1, 2): HTTPS port, management port, JGroups port.
https_port() { echo $(( 8442 + $1 )); }
mgmt_port() { echo $(( 9099 + $1 )); }
jgroups_port() { echo $(( 7799 + $1 )); }
pidfile() { echo "$CL_STATE/kc$1.pid"; }
logfile() { echo "$CL_STATE/kc$1.log"; }

node_healthy() { curl -fsS --cacert "$CA" "https://127.0.0.1:$(mgmt_port "$1")/health/ready"; }
lb_healthy() { curl -fsS --cacert "$CA" "https://127.0.0.1:$LB_PORT/realms/master/.well-known/openid-configuration"; }

admin_env() {
    if [ ! -s "$SECRETS" ]; then
        (umask 077; printf 'KEYCLOAK_ADMIN_USERNAME=%s\nKEYCLOAK_ADMIN_PASSWORD=%s\n' \
            admin "$(random_secret)" > "$SECRETS")
    fi
    cat "$SECRETS"
}

# make_tls: the cluster CA (deploy/cluster/lib.sh) and a server certificate for
# 127.0.0.1/localhost signed by it (once).
make_tls() { tls_cert server 127.0.0.1; }

pg_env() { "$ANBAO_ROOT/deploy/local/postgres.sh" env; }

# make_db: the database keycloak_cluster on the running local PostgreSQL (once).
make_db() {
    local bin
    eval "$(pg_env | sed 's/^/local /')"
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$bin" ] || die "no PostgreSQL client; start it first: deploy/local/postgres.sh start"
    export PGPASSWORD="$POSTGRES_PASSWORD"
    local psql=("$bin/psql" -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres -qtA)
    "${psql[@]}" -c "select 1" >/dev/null || die "PostgreSQL not reachable on $POSTGRES_PORT: deploy/local/postgres.sh start"
    if [ -z "$("${psql[@]}" -c "select 1 from pg_database where datname = '$DB_NAME'")" ]; then
        log "creating database $DB_NAME"
        "${psql[@]}" -c "create database $DB_NAME" >&2 || die "could not create database $DB_NAME"
    fi
    unset PGPASSWORD
}

# build: unpack a copy of the distribution and run `kc.sh build` for production mode (once).
build() {
    local zip java_home="$1" stamp="$KC_HOME/.anbao-build"
    zip=$(fetch_zip org.keycloak keycloak-quarkus-dist "$KEYCLOAK_VERSION")
    unpack "$zip" "$KC_HOME"
    [ -f "$stamp" ] && return 0
    log "kc.sh build (postgres, health, metrics)"
    JAVA_HOME="$java_home" "$KC_HOME/bin/kc.sh" build --db=postgres --health-enabled=true \
        --metrics-enabled=true >"$CL_STATE/build.log" 2>&1 || { tail -n 30 "$CL_STATE/build.log" >&2; die "kc.sh build failed"; }
    touch "$stamp"
}

start_node() {
    local n="$1" java_home="$2" pf lf
    pf=$(pidfile "$n") lf=$(logfile "$n")
    if pid_alive "$pf" && node_healthy "$n" >/dev/null 2>&1; then
        log "kc$n already running and healthy (pid $(cat "$pf"))"; return 0
    fi
    # A running node that is not ready is starting, or is the survivor of a kill -9 held not
    # ready by the split-brain check (see README, Findings): wait for it rather than restart it
    # (a restart would take the only serving node away). Restarted only if it never gets ready.
    if pid_alive "$pf"; then
        log "kc$n running (pid $(cat "$pf")) but not ready; waiting up to ${TIMEOUT}s"
        wait_healthy "kc$n" "$pf" "$lf" "$TIMEOUT" node_healthy "$n" && return 0
        stop_pid "kc$n" "$pf"
    fi
    local user pass
    eval "$(admin_env | sed 's/^/local /')"
    user=$KEYCLOAK_ADMIN_USERNAME pass=$KEYCLOAK_ADMIN_PASSWORD
    eval "$(pg_env | sed 's/^/local /')"
    log "starting kc$n on https 127.0.0.1:$(https_port "$n") (management $(mgmt_port "$n"), jgroups $(jgroups_port "$n"), log $lf)"
    local t0=$SECONDS
    # Secrets go by environment, not on the command line (visible in ps).
    JAVA_HOME="$java_home" KC_BOOTSTRAP_ADMIN_USERNAME="$user" KC_BOOTSTRAP_ADMIN_PASSWORD="$pass" \
        KC_DB_USERNAME="$POSTGRES_USER" KC_DB_PASSWORD="$POSTGRES_PASSWORD" \
        JAVA_OPTS_KC_HEAP="-Xms256m -Xmx768m" \
        setsid "$KC_HOME/bin/kc.sh" start --optimized \
            --db-url="jdbc:postgresql://$POSTGRES_HOST:$POSTGRES_PORT/$DB_NAME" \
            --hostname="https://127.0.0.1:$LB_PORT" \
            --http-host=127.0.0.1 --https-port="$(https_port "$n")" \
            --https-certificate-file="$TLS/server.crt" --https-certificate-key-file="$TLS/server.key" \
            --http-management-port="$(mgmt_port "$n")" \
            --cache-embedded-network-bind-address=127.0.0.1 \
            --cache-embedded-network-bind-port="$(jgroups_port "$n")" \
            >"$lf" 2>&1 < /dev/null 8>&- &
    echo $! > "$pf"
    wait_healthy "kc$n" "$pf" "$lf" "$TIMEOUT" node_healthy "$n" || { stop_pid "kc$n" "$pf"; exit 1; }
    echo "$(( SECONDS - t0 ))" > "$CL_STATE/kc$n.startup-seconds"
}

write_haproxy_cfg() {
    cat > "$HAPROXY_CFG" <<CFG
# Generated by deploy/cluster/keycloak.sh: TLS passthrough to both Keycloak nodes; each node
# is checked on its management interface's /health/ready (HTTPS, verified against the local CA).
# Fallback: when no node is ready, traffic goes to the nodes that are merely live. Keycloak's
# split-brain check (26.7) marks the survivor of a kill -9 not ready until the dead
# coordinator's jgroups_ping row is stale (~60 s after its last update); without the
# fallback that is a full outage (measured: 36 s).
global
    maxconn 4000
    stats socket $CL_STATE/haproxy.sock mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout check 2s
    retries 3
    option redispatch
    log stdout format raw local0

frontend keycloak
    bind 127.0.0.1:$LB_PORT
    option tcplog
    use_backend keycloak_live if { nbsrv(keycloak_nodes) eq 0 }
    default_backend keycloak_nodes

backend keycloak_nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 1s fastinter 500ms fall 2 rise 2 check-ssl verify required ca-file $CA
CFG
    local n
    for n in "${NODES[@]}"; do
        echo "    server kc$n 127.0.0.1:$(https_port "$n") check port $(mgmt_port "$n")" >> "$HAPROXY_CFG"
    done
    cat >> "$HAPROXY_CFG" <<CFG

backend keycloak_live
    balance roundrobin
    option httpchk
    http-check send meth GET uri /health/live ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 1s fastinter 500ms fall 2 rise 2 check-ssl verify required ca-file $CA
CFG
    for n in "${NODES[@]}"; do
        echo "    server kc$n-live 127.0.0.1:$(https_port "$n") check port $(mgmt_port "$n")" >> "$HAPROXY_CFG"
    done
}

haproxy_bin() {
    PATH="$PATH:/usr/sbin"  # Debian installs it there; a non-root PATH may not have it
    if ! command -v haproxy >/dev/null; then
        [ "$(id -u)" = 0 ] || die "HAProxy is not installed; run as root or: apt-get install haproxy"
        log "installing Debian's haproxy package"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2 && apt-get install -y -qq haproxy >&2 || die "apt-get install haproxy failed"
        # The package also installs a system service; it is not used (policy may keep it off).
    fi
    command -v haproxy
}

start_haproxy() {
    local bin
    bin=$(haproxy_bin)
    if pid_alive "$HAPROXY_PID"; then log "haproxy already running (pid $(cat "$HAPROXY_PID"))"; return 0; fi
    write_haproxy_cfg
    "$bin" -c -q -f "$HAPROXY_CFG" >&2 || die "haproxy rejects $HAPROXY_CFG"
    log "starting haproxy on https 127.0.0.1:$LB_PORT (config $HAPROXY_CFG)"
    setsid "$bin" -db -f "$HAPROXY_CFG" >"$HAPROXY_LOG" 2>&1 < /dev/null 8>&- &
    echo $! > "$HAPROXY_PID"
    wait_healthy haproxy "$HAPROXY_PID" "$HAPROXY_LOG" 30 lb_healthy || { stop_pid haproxy "$HAPROXY_PID"; exit 1; }
}

# members N: the member count of node N's latest cluster view (ISPN000094), 0 if none yet.
members() {
    local lf
    lf=$(logfile "$1")
    grep -h 'ISPN000094' "$lf" 2>/dev/null | tail -n 1 | sed -n 's/.*\] (\([0-9]*\)) \[.*/\1/p' | grep . || echo 0
}

up() {
    local java_home n
    java_home=$(pick_java 21)
    make_tls
    make_db
    build "$java_home"
    for n in "${NODES[@]}"; do start_node "$n" "$java_home"; done
    start_haproxy
    status
}

down() {
    stop_pid haproxy "$HAPROXY_PID"
    local n
    for n in 2 1; do stop_pid "kc$n" "$(pidfile "$n")"; done
}

status() {
    local n ok=0 view
    for n in "${NODES[@]}"; do
        if pid_alive "$(pidfile "$n")" && node_healthy "$n" >/dev/null 2>&1; then
            view=$(members "$n")
            echo "kc$n healthy (pid $(cat "$(pidfile "$n")"), https $(https_port "$n"), cluster view: $view members)"
            [ "$view" -ge 2 ] || ok=1
        else
            echo "kc$n down"; ok=1
        fi
    done
    if pid_alive "$HAPROXY_PID" && lb_healthy >/dev/null 2>&1; then
        echo "haproxy healthy (pid $(cat "$HAPROXY_PID"), https 127.0.0.1:$LB_PORT)"
    else
        echo "haproxy down"; ok=1
    fi
    if [ "$ok" = 0 ]; then echo "cluster formed: 2 members"; else echo "cluster not fully up"; fi
    return "$ok"
}

case "${1:-}" in
    up) WAIT=$(( TIMEOUT * 3 )) serialized up-down.lock up ;;
    down) WAIT=$(( TIMEOUT * 3 )) serialized up-down.lock down ;;
    status) status ;;
    env) admin_env; printf 'KEYCLOAK_URL=https://127.0.0.1:%s\nKEYCLOAK_CA=%s\nKEYCLOAK_CLUSTER_STATE=%s\n' "$LB_PORT" "$CA" "$CL_STATE" ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
