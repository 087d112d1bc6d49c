#!/usr/bin/env bash
# Elasticsearch for local runs and tests: one node on loopback, security on, HTTP without TLS
# (loopback only; production enables TLS, see deploy/elasticsearch/).
# Usage: deploy/local/elasticsearch.sh start|stop|status|env
# The `anbao` superuser's password comes from ELASTICSEARCH_PASSWORD; when unset, a random one is
# generated once and kept (mode 0600) in the state directory.
source "$(dirname "$0")/lib.sh"

ES_PORT="${ANBAO_ELASTICSEARCH_PORT:-9200}"
# Elasticsearch refuses to run as root: under root it runs as a system user of its own, from a
# directory that user owns (the cache under /root is not readable by it).
RUN_AS=()
ES_BASE="$ANBAO_STATE"
if [ "$(id -u)" = 0 ]; then
    ES_OS_USER="${ANBAO_ELASTICSEARCH_OS_USER:-anbao-es}"
    id "$ES_OS_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_OS_USER"
    ES_BASE="${ANBAO_ELASTICSEARCH_BASE:-/var/lib/anbao-es}"
    mkdir -p "$ES_BASE"
    RUN_AS=(setpriv --reuid="$ES_OS_USER" --regid="$ES_OS_USER" --init-groups --)
fi
ES_HOME="$ES_BASE/elasticsearch-$ELASTICSEARCH_VERSION"
ES_DATA="$ES_BASE/elasticsearch-data"
PIDFILE="$ANBAO_STATE/elasticsearch.pid"
LOGFILE="$ANBAO_STATE/elasticsearch.log"
SECRETS="$ANBAO_STATE/elasticsearch-user.env"
TIMEOUT="${ANBAO_ELASTICSEARCH_TIMEOUT:-240}"
ES_USER=anbao

user_env() {
    if [ -n "${ELASTICSEARCH_PASSWORD:-}" ]; then
        printf 'ELASTICSEARCH_USERNAME=%s\nELASTICSEARCH_PASSWORD=%s\n' "$ES_USER" "$ELASTICSEARCH_PASSWORD"
        return
    fi
    if [ ! -s "$SECRETS" ]; then
        (umask 077; printf 'ELASTICSEARCH_USERNAME=%s\nELASTICSEARCH_PASSWORD=%s\n' \
            "$ES_USER" "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$SECRETS")
    fi
    cat "$SECRETS"
}

password() { user_env | sed -n 's/^ELASTICSEARCH_PASSWORD=//p'; }

healthy() {
    curl -fsS -u "$ES_USER:$(password)" \
        "http://127.0.0.1:$ES_PORT/_cluster/health?wait_for_status=yellow&timeout=1s"
}

configure() {
    cat > "$ES_HOME/config/elasticsearch.yml" <<YML
cluster.name: anbao-local
node.name: anbao-local-1
path.data: $ES_DATA
path.logs: $ES_BASE/elasticsearch-logs
network.host: 127.0.0.1
http.port: $ES_PORT
transport.port: $(( ES_PORT + 100 ))
discovery.type: single-node
# Security explicit: authentication on, file realm user; TLS off on loopback only.
xpack.security.enabled: true
xpack.security.http.ssl.enabled: false
xpack.security.transport.ssl.enabled: false
action.destructive_requires_name: true
YML
    cat > "$ES_HOME/config/jvm.options.d/anbao.options" <<OPTS
-Xms${ANBAO_ELASTICSEARCH_HEAP:-1g}
-Xmx${ANBAO_ELASTICSEARCH_HEAP:-1g}
OPTS
    # The file realm holds one superuser; re-created on every start so the password follows the env.
    local java_home="$1"
    JAVA_HOME="$java_home" ES_JAVA_HOME="$java_home" "$ES_HOME/bin/elasticsearch-users" userdel "$ES_USER" >/dev/null 2>&1 || true
    printf '%s' "$(password)" | ES_JAVA_HOME="$java_home" "$ES_HOME/bin/elasticsearch-users" \
        useradd "$ES_USER" -r superuser --password-stdin >/dev/null 2>&1 \
        || ES_JAVA_HOME="$java_home" "$ES_HOME/bin/elasticsearch-users" useradd "$ES_USER" -r superuser -p "$(password)" >/dev/null
}

start() {
    if pid_alive "$PIDFILE" && healthy >/dev/null 2>&1; then
        log "elasticsearch already running and healthy (pid $(cat "$PIDFILE"))"; return 0
    fi
    pid_alive "$PIDFILE" && stop_pid elasticsearch "$PIDFILE"
    local zip java_home
    zip=$(fetch_zip org.elasticsearch.distribution.integ-test-zip elasticsearch "$ELASTICSEARCH_VERSION")
    unpack "$zip" "$ES_HOME"
    java_home=$(pick_java 21)
    mkdir -p "$ES_DATA"
    configure "$java_home"
    log "starting elasticsearch $ELASTICSEARCH_VERSION on 127.0.0.1:$ES_PORT (JDK $java_home, log $LOGFILE)"
    local t0=$SECONDS
    [ ${#RUN_AS[@]} -eq 0 ] || chown -R "$ES_OS_USER:$ES_OS_USER" "$ES_BASE"
    ES_JAVA_HOME="$java_home" setsid "${RUN_AS[@]}" "$ES_HOME/bin/elasticsearch" >"$LOGFILE" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    wait_healthy elasticsearch "$PIDFILE" "$LOGFILE" "$TIMEOUT" healthy || { stop_pid elasticsearch "$PIDFILE"; exit 1; }
    echo "$(( SECONDS - t0 ))" > "$ANBAO_STATE/elasticsearch.startup-seconds"
}

case "${1:-}" in
    start) start ;;
    stop) stop_pid elasticsearch "$PIDFILE" ;;
    status) if pid_alive "$PIDFILE" && healthy >/dev/null 2>&1; then echo healthy; else echo down; exit 1; fi ;;
    env) user_env; echo "ELASTICSEARCH_URL=http://127.0.0.1:$ES_PORT" ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
