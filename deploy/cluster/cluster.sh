#!/usr/bin/env bash
# The whole cluster of issue 20 with one command, in dependency order: PostgreSQL
# (deploy/local/postgres.sh), the Keycloak cluster (keycloak.sh), the Elasticsearch cluster
# (elasticsearch.sh, when present), the Anbao nodes behind their load balancer (anbao.sh).
# Usage: deploy/cluster/cluster.sh up|down|status
#   up      start each piece (each script leaves a healthy one running); records which pieces
#           this command started, and the seconds each took, in $ANBAO_CLUSTER_STATE/cluster.*
#   down    stop the Anbao nodes, then the pieces `up` started, in reverse order; a piece that
#           was already running before `up` (someone else's) is left running
#   status  each piece's status; exit 1 unless all are up
source "$(dirname "$0")/../local/lib.sh"

CL_STATE="${ANBAO_CLUSTER_STATE:-$ANBAO_CACHE/cluster}"
KC_STATE="${ANBAO_CLUSTER_KEYCLOAK_STATE:-$CL_STATE}"
STARTED="$CL_STATE/cluster.started"
TIMES="$CL_STATE/cluster.startup-seconds"
HERE="$ANBAO_ROOT/deploy/cluster"
mkdir -p "$CL_STATE"

# The pieces in start order: name, then the command (status/up/down are appended).
pieces() {
    echo postgres
    echo keycloak
    [ -x "$HERE/elasticsearch.sh" ] || [ -n "${ANBAO_CLUSTER_ES_SCRIPT:-}" ] || echo elasticsearch-dev
    [ -x "$HERE/elasticsearch.sh" ] && echo elasticsearch
    echo anbao
}

run() {
    local piece="$1" action="$2"
    case "$piece:$action" in
        postgres:up) "$ANBAO_ROOT/deploy/local/postgres.sh" start ;;
        postgres:*) "$ANBAO_ROOT/deploy/local/postgres.sh" "${action/down/stop}" ;;
        keycloak:*) ANBAO_CLUSTER_STATE="$KC_STATE" "$HERE/keycloak.sh" "$action" ;;
        elasticsearch-dev:up) "$ANBAO_ROOT/deploy/local/elasticsearch.sh" start ;;
        elasticsearch-dev:*) "$ANBAO_ROOT/deploy/local/elasticsearch.sh" "${action/down/stop}" ;;
        elasticsearch:*) "$HERE/elasticsearch.sh" "$action" ;;
        anbao:*) "$HERE/anbao.sh" "$action" ;;
    esac
}

# running PIECE: any process of the piece is alive (healthy or not). A piece with a live process
# before `up` belongs to whoever started it: `up` may heal it, `down` leaves it running.
running() {
    local f
    case "$1" in
        keycloak) for f in "$KC_STATE"/kc1.pid "$KC_STATE"/kc2.pid "$KC_STATE"/haproxy.pid; do
                      pid_alive "$f" && return 0
                  done; return 1 ;;
        *) run "$1" status >/dev/null 2>&1 ;;
    esac
}

up() {
    local piece t0 t1=$SECONDS was
    : > "$TIMES"
    touch "$STARTED"
    for piece in $(pieces); do
        if run "$piece" status >/dev/null 2>&1; then
            log "$piece already up"; continue
        fi
        was=0; running "$piece" && was=1
        t0=$SECONDS
        run "$piece" up || die "$piece did not come up"
        [ "$was" = 0 ] && ! grep -qx "$piece" "$STARTED" && echo "$piece" >> "$STARTED"
        echo "$piece $(( SECONDS - t0 ))" >> "$TIMES"
    done
    echo "total $(( SECONDS - t1 ))" >> "$TIMES"
    log "cluster up in $(( SECONDS - t1 ))s (per piece: $TIMES)"
    status
}

down() {
    local piece
    # The Anbao nodes are this cluster's own: always stopped.
    run anbao down
    for piece in $(pieces | tac); do
        [ "$piece" = anbao ] && continue
        if grep -qx "$piece" "$STARTED" 2>/dev/null; then
            run "$piece" down
            sed -i "/^$piece\$/d" "$STARTED"
        else
            log "$piece left running (not started by cluster.sh up)"
        fi
    done
}

status() {
    local piece ok=0
    for piece in $(pieces); do
        if run "$piece" status >/dev/null 2>&1; then echo "$piece up"; else echo "$piece down"; ok=1; fi
    done
    return "$ok"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
