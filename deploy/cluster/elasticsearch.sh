#!/usr/bin/env bash
# An Elasticsearch cluster of three nodes on loopback (issue 20): every node master- and
# data-eligible, one cluster name, security on with TLS on the transport (between nodes, mutual)
# and on HTTP, each node's certificate signed by the cluster's local CA (deploy/cluster/lib.sh,
# shared with keycloak.sh). Anbao connects as `anbao`, a file-realm user whose role reaches only
# Anbao's indices (anbao-*); `elastic` is the administrator (keystore bootstrap password).
# Usage: deploy/cluster/elasticsearch.sh up|down|status|env
#   up      certificates and passwords (once), then every node that is not running, started
#           side by side (a master needs two of three to be elected); waits until all three
#           have joined and the cluster is green or yellow
#   down    stop the three nodes (only what `up` started, by PID file)
#   (`up` and `down` wait for each other: one at a time per state directory)
#   status  each node's health and RSS, the cluster's status and node count; exit 1 unless
#           three nodes have joined and the cluster is green or yellow
#   env     ELASTICSEARCH_URL (the three nodes, comma-separated), user, password, CA file,
#           and ELASTIC_PASSWORD for administration
# The dev Elasticsearch of deploy/local (9200) is not touched: the cluster has its own copy of
# the distribution, its own data, and state under $ANBAO_CLUSTER_STATE (~/.cache/anbao/cluster).
source "$(dirname "$0")/lib.sh"

NODES=(1 2 3)
CLUSTER_NAME="${ANBAO_ES_CLUSTER_NAME:-anbao-cluster}"
HEAP="${ANBAO_ES_CLUSTER_HEAP:-512m}"
TIMEOUT="${ANBAO_ELASTICSEARCH_TIMEOUT:-240}"
SECRETS="$CL_STATE/elasticsearch-users.env"
ES_USER=anbao
ES_ROLE=anbao_indices
# Elasticsearch refuses to run as root: under root each node runs as the system user of
# deploy/local/elasticsearch.sh, from a directory that user can read (not under /root); the
# state directory then links to it as es/.
RUN_AS=()
ES_BASE="$CL_STATE/es"
if [ "$(id -u)" = 0 ]; then
    ES_OS_USER="${ANBAO_ELASTICSEARCH_OS_USER:-anbao-es}"
    id "$ES_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_OS_USER"
    ES_BASE="/var/lib/anbao-es/$(basename "$CL_STATE")-$(printf '%s' "$CL_STATE" | sha256sum | cut -c1-8)"
    mkdir -p "$ES_BASE"
    [ -L "$CL_STATE/es" ] || ln -sfn "$ES_BASE" "$CL_STATE/es"
    RUN_AS=(setpriv --reuid="$ES_OS_USER" --regid="$ES_OS_USER" --init-groups --)
fi
ES_HOME="$ES_BASE/elasticsearch-$ELASTICSEARCH_VERSION"

http_port() { echo $(( 9220 + $1 )); }
transport_port() { echo $(( 9320 + $1 )); }
node_dir() { echo "$ES_BASE/node-$1"; }
pidfile() { echo "$CL_STATE/es$1.pid"; }
logfile() { echo "$CL_STATE/es$1.log"; }
urls() { local n out=(); for n in "${NODES[@]}"; do out+=("https://127.0.0.1:$(http_port "$n")"); done; (IFS=,; echo "${out[*]}"); }

secrets() {
    if [ ! -s "$SECRETS" ]; then
        (umask 077; printf 'ELASTIC_PASSWORD=%s\nELASTICSEARCH_USERNAME=%s\nELASTICSEARCH_PASSWORD=%s\n' \
            "$(random_secret)" "$ES_USER" "$(random_secret)" > "$SECRETS")
    fi
    cat "$SECRETS"
}
secret() { secrets | sed -n "s/^$1=//p"; }

# es N PATH [curl args]: a request to node N as `elastic`, verified against the cluster CA.
es() {
    local n="$1" path="$2"; shift 2
    curl -fsS --max-time 5 --cacert "$CA" -u "elastic:$(secret ELASTIC_PASSWORD)" "$@" \
        "https://127.0.0.1:$(http_port "$n")$path"
}
node_answers() { es "$1" "/_cluster/health?local=true&timeout=1s" >/dev/null; }
# cluster_formed N: node N sees three nodes and a green or yellow cluster.
cluster_formed() {
    es "$1" "/_cluster/health?wait_for_nodes=3&wait_for_status=yellow&timeout=1s" >/dev/null
}

# tool CONF NAME ARGS: an Elasticsearch command-line tool on configuration directory CONF, as
# the user the nodes run as (the keystore tool refuses to change a keystore's owner).
tool() {
    local conf="$1" name="$2"; shift 2
    ES_PATH_CONF="$conf" ES_JAVA_HOME="$JAVA" "${RUN_AS[@]}" "$ES_HOME/bin/$name" "$@"
}

# shared_config: what every node's configuration holds alike, made once per set of secrets
# (the tools start a JVM each): the keystore with `elastic`'s bootstrap password, and the file
# realm's `anbao` user with its role, which reaches Anbao's indices (audit, alerts) only.
SHARED_CONF="$ES_BASE/config-shared"
shared_config() {
    local stamp="$SHARED_CONF/.anbao-secrets" digest
    digest=$(secrets | sha256sum | cut -c1-16)
    [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ] && return 0
    log "making the keystore and the file realm's users (once)"
    rm -rf "$SHARED_CONF" && cp -r "$ES_HOME/config" "$SHARED_CONF" && rm -f "$SHARED_CONF/elasticsearch.keystore"
    cat > "$SHARED_CONF/roles.yml" <<YML
$ES_ROLE:
  cluster: [monitor, manage_index_templates, manage_ilm]
  indices:
    - names: ["anbao-*"]
      privileges: [create_index, manage, read, write]
YML
    [ ${#RUN_AS[@]} -eq 0 ] || chown -R "$ES_OS_USER:$ES_OS_USER" "$SHARED_CONF"
    tool "$SHARED_CONF" elasticsearch-keystore create >/dev/null
    secret ELASTIC_PASSWORD | tool "$SHARED_CONF" elasticsearch-keystore add -x -f bootstrap.password >/dev/null
    tool "$SHARED_CONF" elasticsearch-users useradd "$ES_USER" -r "$ES_ROLE" -p "$(secret ELASTICSEARCH_PASSWORD)" >/dev/null
    echo "$digest" > "$stamp"
}

# configure N: node N's configuration directory: elasticsearch.yml, heap, certificates, and
# the shared keystore, users and roles.
configure() {
    local n="$1" dir conf bootstrap=""
    dir=$(node_dir "$n") conf="$(node_dir "$n")/config"
    mkdir -p "$dir/data" "$dir/logs"
    if [ ! -f "$conf/jvm.options" ]; then
        rm -rf "$conf" && cp -r "$ES_HOME/config" "$conf" && rm -f "$conf/elasticsearch.keystore"
    fi
    mkdir -p "$conf/certs"
    cp "$CA" "$conf/certs/ca.crt"
    cp "$TLS/es-node-$n.crt" "$conf/certs/node.crt"
    (umask 077; cp "$TLS/es-node-$n.key" "$conf/certs/node.key")
    # Bootstrap only a node without data: a restarted node rejoins the cluster it knows.
    if [ -z "$(ls -A "$dir/data" 2>/dev/null)" ]; then
        bootstrap="cluster.initial_master_nodes: [es-1, es-2, es-3]"
    fi
    local seeds n2 list=()
    for n2 in "${NODES[@]}"; do list+=("\"127.0.0.1:$(transport_port "$n2")\""); done
    seeds=$(IFS=,; echo "${list[*]}")
    cat > "$conf/elasticsearch.yml" <<YML
# Generated by deploy/cluster/elasticsearch.sh (node $n of ${#NODES[@]}).
cluster.name: $CLUSTER_NAME
node.name: es-$n
node.roles: [master, data]
path.data: $dir/data
path.logs: $dir/logs
network.host: 127.0.0.1
http.port: $(http_port "$n")
transport.port: $(transport_port "$n")
discovery.seed_hosts: [$seeds]
$bootstrap
xpack.security.enabled: true
xpack.security.transport.ssl.enabled: true
xpack.security.transport.ssl.verification_mode: full
xpack.security.transport.ssl.client_authentication: required
xpack.security.transport.ssl.key: certs/node.key
xpack.security.transport.ssl.certificate: certs/node.crt
xpack.security.transport.ssl.certificate_authorities: [certs/ca.crt]
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: certs/node.key
xpack.security.http.ssl.certificate: certs/node.crt
xpack.security.http.ssl.certificate_authorities: [certs/ca.crt]
action.destructive_requires_name: true
YML
    printf -- '-Xms%s\n-Xmx%s\n' "$HEAP" "$HEAP" > "$conf/jvm.options.d/anbao.options"
    local f
    for f in elasticsearch.keystore users users_roles roles.yml; do cp -p "$SHARED_CONF/$f" "$conf/$f"; done
    [ ${#RUN_AS[@]} -eq 0 ] || chown -R "$ES_OS_USER:$ES_OS_USER" "$dir"
}

# start N: start node N in the background unless it is running and answering.
start_node() {
    local n="$1" pf lf
    pf=$(pidfile "$n") lf=$(logfile "$n")
    if pid_alive "$pf" && node_answers "$n" 2>/dev/null; then
        log "es-$n already running (pid $(cat "$pf"))"; return 0
    fi
    if pid_alive "$pf"; then stop_pid "es-$n" "$pf"; fi
    configure "$n"
    log "starting es-$n on https 127.0.0.1:$(http_port "$n") (transport $(transport_port "$n"), log $lf)"
    ES_PATH_CONF="$(node_dir "$n")/config" ES_JAVA_HOME="$JAVA" \
        setsid "${RUN_AS[@]}" "$ES_HOME/bin/elasticsearch" >"$lf" 2>&1 < /dev/null 8>&- &
    echo $! > "$pf"
    date +%s > "$CL_STATE/es$n.started-at"
}

up() {
    local zip n t0=$SECONDS started=()
    JAVA=$(pick_java 21)
    zip=$(fetch_zip org.elasticsearch.distribution.integ-test-zip elasticsearch "$ELASTICSEARCH_VERSION")
    unpack "$zip" "$ES_HOME"
    [ ${#RUN_AS[@]} -eq 0 ] || chown -R "$ES_OS_USER:$ES_OS_USER" "$ES_HOME"
    tls_ca
    secrets >/dev/null
    for n in "${NODES[@]}"; do
        if ! (pid_alive "$(pidfile "$n")" && node_answers "$n" 2>/dev/null); then started+=("$n"); fi
        tls_cert "es-node-$n" "es-$n"
    done
    shared_config
    for n in "${started[@]}"; do start_node "$n"; done
    for n in "${started[@]}"; do
        wait_healthy "es-$n" "$(pidfile "$n")" "$(logfile "$n")" "$TIMEOUT" cluster_formed "$n" \
            || { down_nodes "${started[@]}"; exit 1; }
        echo "$(( $(date +%s) - $(cat "$CL_STATE/es$n.started-at") ))" > "$CL_STATE/es$n.startup-seconds"
    done
    [ ${#started[@]} -eq 0 ] || echo "$(( SECONDS - t0 ))" > "$CL_STATE/es-up.seconds"
    status
}

down_nodes() { local n; for n in "$@"; do stop_pid "es-$n" "$(pidfile "$n")"; done; }

# rss_mb N: resident memory of node N's processes (the launcher and the server JVM), in MB.
rss_mb() {
    local pid kb=0 p
    pid=$(cat "$(pidfile "$1")")
    for p in $pid $(pgrep -P "$pid" || true); do
        kb=$(( kb + $(ps -o rss= -p "$p" 2>/dev/null || echo 0) ))
    done
    echo $(( kb / 1024 ))
}

status() {
    local n ok=0 health=""
    for n in "${NODES[@]}"; do
        if pid_alive "$(pidfile "$n")" && node_answers "$n" 2>/dev/null; then
            echo "es-$n up (pid $(cat "$(pidfile "$n")"), https $(http_port "$n"), transport $(transport_port "$n"), RSS $(rss_mb "$n") MB)"
            [ -n "$health" ] || health=$(es "$n" "/_cluster/health?filter_path=status,number_of_nodes" 2>/dev/null || true)
        else
            echo "es-$n down"; ok=1
        fi
    done
    echo "cluster $CLUSTER_NAME: ${health:-no answer}"
    if [[ "$health" =~ \"status\":\"(green|yellow)\" ]] && [[ "$health" =~ \"number_of_nodes\":3 ]]; then
        echo "cluster formed: 3 nodes"
    else
        echo "cluster not fully up"; ok=1
    fi
    return "$ok"
}

case "${1:-}" in
    up) WAIT=$(( TIMEOUT * 3 )) serialized es-up-down.lock up ;;
    down) WAIT=$(( TIMEOUT * 3 )) serialized es-up-down.lock down_nodes 3 2 1 ;;
    status) status ;;
    env) secrets; printf 'ELASTICSEARCH_URL=%s\nELASTICSEARCH_CA_FILE=%s\n' "$(urls)" "$CA" ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
