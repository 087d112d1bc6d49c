#!/usr/bin/env bash
# Manual failover check for deploy/cluster/keycloak.sh (issue 20 groundwork, not a test yet):
# password grants (master realm, admin-cli, the bootstrap admin) through HAProxy every 0.2 s;
# after 3 s the Java process of node N (default 1) is killed with SIGKILL. Prints each failure
# and, at the end, how many grants failed and for how long (first to last failure).
# Usage: deploy/cluster/failover-check.sh [NODE] [SECONDS]
# The killed node stays down: `deploy/cluster/keycloak.sh up` starts it again.
source "$(dirname "$0")/../local/lib.sh"

NODE="${1:-1}" DURATION="${2:-20}"
CL_STATE="${ANBAO_CLUSTER_STATE:-$ANBAO_CACHE/cluster}"
eval "$("$(dirname "$0")/keycloak.sh" env)"
pid=$(pgrep -P "$(cat "$CL_STATE/kc$NODE.pid")" java) || die "kc$NODE is not running"

grant() {
    curl -sS --max-time 10 --cacert "$KEYCLOAK_CA" -o /dev/null -w '%{http_code}' \
        -d grant_type=password -d client_id=admin-cli \
        --data-urlencode "username=$KEYCLOAK_ADMIN_USERNAME" \
        --data-urlencode "password=$KEYCLOAK_ADMIN_PASSWORD" \
        "$KEYCLOAK_URL/realms/master/protocol/openid-connect/token" 2>/dev/null
}

ok=0 failed=0 first="" last="" killed=""
t0=$(date +%s.%N)
while :; do
    now=$(date +%s.%N)
    elapsed=$(echo "$now - $t0" | bc)
    (( $(echo "$elapsed > $DURATION" | bc) )) && break
    if [ -z "$killed" ] && (( $(echo "$elapsed > 3" | bc) )); then
        kill -KILL "$pid"; killed=$elapsed; log "killed kc$NODE (java pid $pid) at ${elapsed}s"
    fi
    code=$(grant) || true
    if [ "$code" = 200 ]; then ok=$((ok + 1)); else
        failed=$((failed + 1)); log "grant failed at ${elapsed}s: HTTP ${code:-none}"
        [ -n "$first" ] || first=$elapsed; last=$elapsed
    fi
    sleep 0.2
done
echo "grants: $ok ok, $failed failed; killed at ${killed}s; errors from ${first:-none} to ${last:-none}"
