#!/usr/bin/env bash
# Two Anbao nodes on loopback behind HAProxy (issue 20): `anbao serve` from the repository's
# .venv, two workers each, on 127.0.0.1:8101 and :8102, each with its own data directory (its
# spool: a node's buffer), sharing PostgreSQL (cluster state, seals, compliance), Elasticsearch
# (audit trail, alerts) and the Keycloak cluster of deploy/cluster/keycloak.sh; HAProxy (Debian's,
# run as the caller) terminates TLS on https://127.0.0.1:8100 with the cluster CA's certificate
# and balances both nodes, checked on /readyz, with retries and redispatch.
# Usage: deploy/cluster/anbao.sh up|down|purge|status|env
#   up      a fresh trail when Elasticsearch is not the cluster the trail began on (purge),
#           databases (once), secrets (once), the realm (`anbao iam apply`, idempotent), node 1,
#           node 2 (each waits for /readyz), then HAProxy; a node already healthy is left running
#   down    stop HAProxy and both nodes (only what `up` started, by PID file)
#   purge   down, then drop the three databases, delete the Elasticsearch indices of the audit
#           trail and alerts, and remove this script's state (secrets, keys, spools): a fresh start.
#           One Anbao cluster per machine: the databases, the realm's clients and the indices
#           are machine-wide, while secrets and keys are in the state directory.
#   status  each node's /readyz and HAProxy's; exit 1 unless all are up
#   env     ANBAO_URL (the load balancer), ANBAO_CA, ANBAO_CONFIG_<N> (each node's settings file,
#           for the `anbao` CLI as that node), SSL_CERT_FILE (trusts the cluster CA)
# Environment: ANBAO_CLUSTER_STATE (default ~/.cache/anbao/cluster) holds this script's state
# under anbao/; ANBAO_CLUSTER_KEYCLOAK_STATE (default: the same) is the Keycloak cluster's state
# directory (its CA, admin credentials), so a test copy of the Anbao nodes can use a Keycloak
# cluster someone else runs. ANBAO_CLUSTER_ES_SCRIPT picks the Elasticsearch (see ES_SCRIPT).
source "$(dirname "$0")/../local/lib.sh"

CL_STATE="${ANBAO_CLUSTER_STATE:-$ANBAO_CACHE/cluster}"
KC_STATE="${ANBAO_CLUSTER_KEYCLOAK_STATE:-$CL_STATE}"
# The Elasticsearch the nodes write to: the three-node cluster when its script is there, else
# the development node of deploy/local. Switching is this one line (or ANBAO_CLUSTER_ES_SCRIPT).
ES_SCRIPT="${ANBAO_CLUSTER_ES_SCRIPT:-$([ -x "$ANBAO_ROOT/deploy/cluster/elasticsearch.sh" ] \
    && echo "$ANBAO_ROOT/deploy/cluster/elasticsearch.sh" || echo "$ANBAO_ROOT/deploy/local/elasticsearch.sh")}"
AN_STATE="$CL_STATE/anbao"
SHARED="$AN_STATE/shared"
SECRETS="$AN_STATE/secrets.env"
CA_BUNDLE="$AN_STATE/ca-bundle.pem"
LB_PEM="$AN_STATE/lb.pem"
HAPROXY_CFG="$AN_STATE/haproxy.cfg"
HAPROXY_PID="$AN_STATE/haproxy.pid"
HAPROXY_LOG="$AN_STATE/haproxy.log"
LB_PORT="${ANBAO_CLUSTER_ANBAO_LB_PORT:-8100}"
KC_LB_PORT="${ANBAO_CLUSTER_LB_PORT:-8453}"
ANBAO="$ANBAO_ROOT/.venv/bin/anbao"
PYTHON="$ANBAO_ROOT/.venv/bin/python"
DB_STATE=anbao_cluster
DB_SEALS=anbao_cluster_seals
DB_COMPLIANCE=anbao_cluster_compliance
TIMEOUT="${ANBAO_CLUSTER_ANBAO_TIMEOUT:-120}"
# production (default) or development; either way `up` provisions the shared keys first
# (provision_keys): a clustered node never makes its own.
ENVIRONMENT="${ANBAO_CLUSTER_ENVIRONMENT:-production}"
NODES=(1 2)
mkdir -p "$AN_STATE"

node_port() { echo $(( 8100 + $1 )); }
node_dir() { echo "$AN_STATE/anbao-$1"; }
pidfile() { echo "$AN_STATE/anbao-$1.pid"; }
logfile() { echo "$AN_STATE/anbao-$1.log"; }
config() { echo "$(node_dir "$1")/anbao.toml"; }
kc_ca() { echo "$KC_STATE/tls/ca.crt"; }

node_ready() { curl -fsS "http://127.0.0.1:$(node_port "$1")/readyz"; }
lb_ready() { curl -fsS --cacert "$(kc_ca)" "https://127.0.0.1:$LB_PORT/readyz"; }

kc_env() { ANBAO_CLUSTER_STATE="$KC_STATE" "$ANBAO_ROOT/deploy/cluster/keycloak.sh" env; }
pg_env() { "$ANBAO_ROOT/deploy/local/postgres.sh" env; }
es_env() { "$ES_SCRIPT" env; }

# secrets_env: what only Anbao and its realm share, made once (0600): the realm clients' secrets
# (introspection, admin service account, web console) and the seal registry's KEK.
secrets_env() {
    if [ ! -s "$SECRETS" ]; then
        local rnd kek
        rnd() { head -c 32 /dev/urandom | base64 | tr -d '/+='; }
        kek=$("$PYTHON" -c 'from crypto.keystore import KekRing; print(KekRing.generate_entry("cluster-1"))')
        (umask 077; printf '%s\n' "ANBAO_KEYCLOAK_CLIENT_SECRET=$(rnd)" \
            "ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET=$(rnd)" "ANBAO_CONSOLE_CLIENT_SECRET=$(rnd)" \
            "ANBAO_SEALS_KEK=$kek" > "$SECRETS")
    fi
    cat "$SECRETS"
}

# make_dbs: the shared-state, seal-registry and compliance databases (once each).
make_dbs() {
    local bin db
    eval "$(pg_env | sed 's/^/local /')"
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$bin" ] || die "no PostgreSQL client; start it first: deploy/local/postgres.sh start"
    export PGPASSWORD="$POSTGRES_PASSWORD"
    local psql=("$bin/psql" -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres -qtA)
    "${psql[@]}" -c "select 1" >/dev/null || die "PostgreSQL not reachable on $POSTGRES_PORT: deploy/local/postgres.sh start"
    for db in "$DB_STATE" "$DB_SEALS" "$DB_COMPLIANCE"; do
        if [ -z "$("${psql[@]}" -c "select 1 from pg_database where datname = '$db'")" ]; then
            log "creating database $db"
            "${psql[@]}" -c "create database $db" >&2 || die "could not create database $db"
        fi
    done
    unset PGPASSWORD
}

# make_tls_files: the CA bundle the nodes and the CLI trust (the system's roots + the cluster CA:
# Anbao has no setting for Keycloak's CA, so httpx and requests read SSL_CERT_FILE and
# REQUESTS_CA_BUNDLE), and HAProxy's certificate + key in one PEM (0600).
make_tls_files() {
    local ca roots
    ca=$(kc_ca)
    [ -s "$ca" ] || die "no cluster CA at $ca: deploy/cluster/keycloak.sh up"
    roots=$("$PYTHON" -c 'import certifi; print(certifi.where())')
    cat "$roots" "$ca" > "$CA_BUNDLE"
    (umask 077; cat "$KC_STATE/tls/server.crt" "$KC_STATE/tls/server.key" > "$LB_PEM")
}

# write_config N: node N's settings (0600: they hold secrets). Shared by both nodes: the field
# keyring, the heads' signing key and the console's session key (one file each, made by node 1
# at its first start), so any node reads what another wrote.
write_config() {
    local n="$1" dir cfg
    dir=$(node_dir "$n") cfg=$(config "$n")
    mkdir -p "$dir" "$SHARED"
    eval "$(kc_env | sed 's/^/local /')"
    eval "$(pg_env | sed 's/^/local /')"
    eval "$(es_env | sed 's/^/local /')"
    eval "$(secrets_env | sed 's/^/local /')"
    local pg="postgresql://$POSTGRES_USER:$POSTGRES_PASSWORD@$POSTGRES_HOST:$POSTGRES_PORT"
    (umask 077; cat > "$cfg" <<TOML
# Generated by deploy/cluster/anbao.sh for node anbao-$n; secrets inside (0600).
environment = "$ENVIRONMENT"
data_dir = "$dir"

[server]
host = "127.0.0.1"
port = $(node_port "$n")
workers = 2
behind_tls_proxy = true
access_log = false

[keycloak]
url = "$KEYCLOAK_URL"
realm = "anbao"
admin_username = "$KEYCLOAK_ADMIN_USERNAME"
admin_password = "$KEYCLOAK_ADMIN_PASSWORD"
admin_client_secret = "$ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET"
client_id = "anbao-api"
client_secret = "$ANBAO_KEYCLOAK_CLIENT_SECRET"
# Both nodes may pull Keycloak's events: the holder of the keycloak-events lease (PostgreSQL) does.

[audit]
store = "elasticsearch"
index_prefix = "anbao-cluster-audit"
ship_in_subprocess = true

[elasticsearch]
url = "$ELASTICSEARCH_URL"
username = "$ELASTICSEARCH_USERNAME"
password = "$ELASTICSEARCH_PASSWORD"
ca_file = "${ELASTICSEARCH_CA_FILE:-${ELASTICSEARCH_CA:-}}"

[audit_integrity]
signing_key_file = "$SHARED/audit-sth-key.pem"
field_keyring_file = "$SHARED/audit-field-keys.json"

[seals]
enabled = true
database_url = "$pg/$DB_SEALS"
kek = "$ANBAO_SEALS_KEK"

[siem]
alert_store = "elasticsearch"
alert_index = "anbao-cluster-siem-alerts"

[compliance]
database_url = "$pg/$DB_COMPLIANCE"

[console]
client_secret = "$ANBAO_CONSOLE_CLIENT_SECRET"
public_url = "https://127.0.0.1:$LB_PORT"
session_key_file = "$SHARED/console-session.key"

[cluster]
node_id = "anbao-$n"
database_url = "$pg/$DB_STATE"
TOML
    )
}

# node_env: the environment every `anbao` process of the cluster runs with.
node_env() { echo "SSL_CERT_FILE=$CA_BUNDLE" "REQUESTS_CA_BUNDLE=$CA_BUNDLE"; }

# apply_realm: converge the Keycloak cluster's realms to deploy/keycloak/*.yaml with Anbao's
# client secrets and the load balancer's console URL (idempotent; one apply at a time).
apply_realm() {
    exec 9>"$KC_STATE/anbao-apply.lock"
    flock -w 120 9 || die "another realm apply holds $KC_STATE/anbao-apply.lock"
    # shellcheck disable=SC2046
    env $(node_env) ANBAO_CONFIG="$(config 1)" "$ANBAO" iam apply \
        --set console_url="https://127.0.0.1:$LB_PORT" \
        "$ANBAO_ROOT"/deploy/keycloak/court-realm.yaml "$ANBAO_ROOT"/deploy/keycloak/anbao-realm.yaml \
        > "$AN_STATE/apply.log" 2>&1 || { cat "$AN_STATE/apply.log" >&2; die "anbao iam apply failed"; }
    exec 9>&-
}

# provision_keys: the keys of shared data, one file each for both nodes (a clustered node never
# makes its own: another node could not open what it sealed): the audit field keyring, the
# console's session key, and the heads' signing key. Made once (0600), as an operator would
# before the first start, with the project's own key functions.
provision_keys() {
    mkdir -p "$SHARED" && chmod 700 "$SHARED"
    [ -s "$SHARED/console-session.key" ] || (umask 077; openssl rand -hex 16 > "$SHARED/console-session.key")
    [ -s "$SHARED/audit-field-keys.json" ] && [ -s "$SHARED/audit-sth-key.pem" ] && return 0
    log "making the shared audit keys in $SHARED"
    (umask 077; "$PYTHON" -c '
import sys
from pathlib import Path
from audit.integrity.setup import load_signing_key
from audit.sensitive.masking import load_or_create_keyring
load_or_create_keyring(Path(sys.argv[1]), create=True)
load_signing_key(Path(sys.argv[2]), "", create=True)
' "$SHARED/audit-field-keys.json" "$SHARED/audit-sth-key.pem") || die "could not make the shared audit keys"
}

start_node() {
    local n="$1" pf lf
    pf=$(pidfile "$n") lf=$(logfile "$n")
    if pid_alive "$pf" && node_ready "$n" >/dev/null 2>&1; then
        log "anbao-$n already running and ready (pid $(cat "$pf"))"; return 0
    fi
    pid_alive "$pf" && stop_pid "anbao-$n" "$pf"
    log "starting anbao-$n on http 127.0.0.1:$(node_port "$n") (2 workers, log $lf)"
    local t0=$SECONDS
    # shellcheck disable=SC2046
    env $(node_env) ANBAO_CONFIG="$(config "$n")" setsid "$ANBAO" serve >"$lf" 2>&1 < /dev/null &
    echo $! > "$pf"
    wait_healthy "anbao-$n" "$pf" "$lf" "$TIMEOUT" node_ready "$n" || { stop_pid "anbao-$n" "$pf"; exit 1; }
    echo "$(( SECONDS - t0 ))" > "$AN_STATE/anbao-$n.startup-seconds"
}

write_haproxy_cfg() {
    cat > "$HAPROXY_CFG" <<CFG
# Generated by deploy/cluster/anbao.sh: TLS ends here (the cluster CA's certificate for
# 127.0.0.1); both Anbao nodes behind, checked on /readyz every second. Only connection
# failures are retried (HAProxy's default retry-on): a request a node may have processed is
# never sent twice, so no audited action is recorded twice by the balancer.
# Fallback: when no node is ready (/readyz fails on both, e.g. while Keycloak's balancer has no
# ready node, as in its own failover), traffic goes to the nodes that are merely live
# (/healthz): tokens still verify against cached keys and the spool still takes events.
global
    maxconn 4000
    stats socket $AN_STATE/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout check 2s
    retries 3
    option redispatch
    option forwardfor
    log stdout format raw local0

frontend anbao
    bind 127.0.0.1:$LB_PORT ssl crt $LB_PEM
    http-request set-header X-Forwarded-Proto https
    use_backend anbao_live if { nbsrv(anbao_nodes) eq 0 }
    default_backend anbao_nodes

backend anbao_nodes
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 1s fastinter 500ms fall 2 rise 2
CFG
    local n
    for n in "${NODES[@]}"; do
        echo "    server anbao-$n 127.0.0.1:$(node_port "$n") check" >> "$HAPROXY_CFG"
    done
    cat >> "$HAPROXY_CFG" <<CFG

backend anbao_live
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host 127.0.0.1
    http-check expect status 200
    default-server inter 1s fastinter 500ms fall 2 rise 2
CFG
    for n in "${NODES[@]}"; do
        echo "    server anbao-$n-live 127.0.0.1:$(node_port "$n") check" >> "$HAPROXY_CFG"
    done
}

start_haproxy() {
    local bin
    bin=$(command -v haproxy) || die "HAProxy is not installed: deploy/cluster/keycloak.sh up installs it (root), or apt-get install haproxy"
    if pid_alive "$HAPROXY_PID"; then log "haproxy already running (pid $(cat "$HAPROXY_PID"))"; return 0; fi
    write_haproxy_cfg
    "$bin" -c -q -f "$HAPROXY_CFG" >&2 || die "haproxy rejects $HAPROXY_CFG"
    log "starting haproxy on https 127.0.0.1:$LB_PORT (config $HAPROXY_CFG)"
    setsid "$bin" -db -f "$HAPROXY_CFG" >"$HAPROXY_LOG" 2>&1 < /dev/null &
    echo $! > "$HAPROXY_PID"
    wait_healthy haproxy "$HAPROXY_PID" "$HAPROXY_LOG" 30 lb_ready || { stop_pid haproxy "$HAPROXY_PID"; exit 1; }
}

# es_cluster_uuid: the identity of the Elasticsearch cluster the nodes write to.
es_cluster_uuid() {
    eval "$(es_env | sed 's/^/local /')"
    local es=(curl -fsS -u "$ELASTICSEARCH_USERNAME:$ELASTICSEARCH_PASSWORD") ca="${ELASTICSEARCH_CA_FILE:-${ELASTICSEARCH_CA:-}}"
    [ -n "$ca" ] && es+=(--cacert "$ca")
    "${es[@]}" "${ELASTICSEARCH_URL%%,*}/_cluster/stats?filter_path=cluster_uuid" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["cluster_uuid"])'
}

# trail_home: the integrity log in PostgreSQL names events of one Elasticsearch cluster. When the
# nodes now write to another one (the source switched, or the cluster was made again), that log
# would call every old event deleted: this loopback cluster then starts a fresh trail (purge).
trail_home() {
    local uuid home="$AN_STATE/elasticsearch-cluster-uuid"
    uuid=$(es_cluster_uuid) || die "could not read the Elasticsearch cluster's identity"
    if [ "$(cat "$home" 2>/dev/null)" != "$uuid" ]; then
        [ -s "$home" ] && log "Elasticsearch is another cluster than the trail's: a fresh trail"
        [ -s "$home" ] || log "no record of the trail's Elasticsearch: a fresh trail"
        purge
        mkdir -p "$AN_STATE"
        echo "$uuid" > "$home"
    fi
}

up() {
    [ -x "$ANBAO" ] || die "no $ANBAO: make install"
    "$ES_SCRIPT" status >/dev/null 2>&1 || die "Elasticsearch ($ES_SCRIPT) is not up"
    trail_home
    # Keycloak's balancer answering is enough (one node may be down: that is its failover).
    curl -fsS --cacert "$(kc_ca)" "https://127.0.0.1:$KC_LB_PORT/realms/master/.well-known/openid-configuration" \
        >/dev/null 2>&1 || die "the Keycloak cluster's balancer does not answer: deploy/cluster/keycloak.sh up"
    local t0=$SECONDS n
    make_dbs
    make_tls_files
    provision_keys
    for n in "${NODES[@]}"; do write_config "$n"; done
    apply_realm
    for n in "${NODES[@]}"; do start_node "$n"; done
    start_haproxy
    log "up in $(( SECONDS - t0 ))s"
    status
}

down() {
    stop_pid haproxy "$HAPROXY_PID"
    local n
    for n in 2 1; do stop_pid "anbao-$n" "$(pidfile "$n")"; done
}

purge() {
    down
    local bin db
    eval "$(pg_env | sed 's/^/local /')"
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    for db in "$DB_STATE" "$DB_SEALS" "$DB_COMPLIANCE"; do
        PGPASSWORD="$POSTGRES_PASSWORD" "$bin/psql" -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" \
            -U "$POSTGRES_USER" -d postgres -qtA -c "drop database if exists $db" >&2 \
            || die "could not drop database $db (in use?)"
    done
    eval "$(es_env | sed 's/^/local /')"
    local es=(curl -fsS -u "$ELASTICSEARCH_USERNAME:$ELASTICSEARCH_PASSWORD") url="${ELASTICSEARCH_URL%%,*}"
    local ca="${ELASTICSEARCH_CA_FILE:-${ELASTICSEARCH_CA:-}}"
    [ -n "$ca" ] && es+=(--cacert "$ca")
    local index  # by name: Elasticsearch refuses wildcard deletes (action.destructive_requires_name)
    for index in $("${es[@]}" "$url/_cat/indices/anbao-cluster-audit-*,anbao-cluster-siem-alerts*?h=index&expand_wildcards=all"); do
        "${es[@]}" -X DELETE "$url/$index" >/dev/null || die "could not delete index $index"
    done
    "${es[@]}" -X DELETE "$url/_index_template/anbao-cluster-*" >/dev/null || true
    rm -rf "$AN_STATE"
    log "purged: databases, indices and $AN_STATE"
}

status() {
    local n ok=0
    for n in "${NODES[@]}"; do
        if pid_alive "$(pidfile "$n")" && node_ready "$n" >/dev/null 2>&1; then
            echo "anbao-$n ready (pid $(cat "$(pidfile "$n")"), http 127.0.0.1:$(node_port "$n"))"
        else
            echo "anbao-$n down"; ok=1
        fi
    done
    if pid_alive "$HAPROXY_PID" && lb_ready >/dev/null 2>&1; then
        echo "haproxy ready (pid $(cat "$HAPROXY_PID"), https 127.0.0.1:$LB_PORT)"
    else
        echo "haproxy down"; ok=1
    fi
    return "$ok"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    purge) purge ;;
    status) status ;;
    env)
        printf 'ANBAO_URL=https://127.0.0.1:%s\nANBAO_CA=%s\nSSL_CERT_FILE=%s\n' "$LB_PORT" "$(kc_ca)" "$CA_BUNDLE"
        for n in "${NODES[@]}"; do
            printf 'ANBAO_CONFIG_%s=%s\nANBAO_PIDFILE_%s=%s\nANBAO_NODE_URL_%s=http://127.0.0.1:%s\n' \
                "$n" "$(config "$n")" "$n" "$(pidfile "$n")" "$n" "$(node_port "$n")"
        done
        ;;
    *) echo "usage: $0 up|down|purge|status|env" >&2; exit 2 ;;
esac
