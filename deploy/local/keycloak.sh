#!/usr/bin/env bash
# Keycloak for local runs and tests: dev mode with its embedded database, loopback only.
# Usage: deploy/local/keycloak.sh start|stop|status|env|apply
#   start   fetch (once), unpack (once), start, wait for /health/ready (no-op when healthy),
#           then converge the realms to deploy/keycloak/*.yaml (`anbao iam apply`, idempotent)
#   apply   only converge the realms
#   env     print the variables a client needs (URL, admin user and password file)
# The bootstrap admin comes from KEYCLOAK_ADMIN_USERNAME/KEYCLOAK_ADMIN_PASSWORD; when unset,
# a random password is generated once and kept (mode 0600) in the state directory. The secret
# of each of the realm's own clients is kept the same way: `apply` gives it to the client, `env`
# prints it for the API: anbao-api (RFC 7662 introspection) as ANBAO_KEYCLOAK_CLIENT_SECRET,
# anbao-admin (the service account every admin call is made as, as in production) as
# ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET, anbao-console-web (the web console's sign-in) as
# ANBAO_CONSOLE_CLIENT_SECRET.
source "$(dirname "$0")/lib.sh"

KC_PORT="${ANBAO_KEYCLOAK_PORT:-8080}"
KC_MGMT_PORT="${ANBAO_KEYCLOAK_MGMT_PORT:-9000}"
KC_HOME="$ANBAO_STATE/keycloak-$KEYCLOAK_VERSION"
PIDFILE="$ANBAO_STATE/keycloak.pid"
LOGFILE="$ANBAO_STATE/keycloak.log"
SECRETS="$ANBAO_STATE/keycloak-admin.env"
API_SECRET="$ANBAO_STATE/anbao-api-client.env"
ADMIN_CLIENT_SECRET="$ANBAO_STATE/anbao-admin-client.env"
CONSOLE_CLIENT_SECRET="$ANBAO_STATE/anbao-console-client.env"
TIMEOUT="${ANBAO_KEYCLOAK_TIMEOUT:-300}"

healthy() { curl -fsS "http://127.0.0.1:$KC_MGMT_PORT/health/ready"; }

# apply_realms: converge the realms to deploy/keycloak/*.yaml (idempotent; never prunes).
# The partner stand-in (court) first, the provincial realm last.
apply_realms() {
    local anbao="$ANBAO_ROOT/.venv/bin/anbao"
    if [ ! -x "$anbao" ]; then
        log "realm files not applied: no $anbao yet (make install, then: $0 apply)"; return 0
    fi
    local user pass
    eval "$(admin_env | sed 's/^/local /')"
    user=$KEYCLOAK_ADMIN_USERNAME pass=$KEYCLOAK_ADMIN_PASSWORD
    # Test sessions may start side by side: one apply at a time.
    exec 9>"$ANBAO_STATE/keycloak-apply.lock"
    flock -w 120 9 || die "another realm apply holds $ANBAO_STATE/keycloak-apply.lock"
    local api_secret admin_secret console_secret
    api_secret=$(api_client_env | sed -n 's/^ANBAO_KEYCLOAK_CLIENT_SECRET=//p')
    admin_secret=$(admin_client_env | sed -n 's/^ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET=//p')
    console_secret=$(console_client_env | sed -n 's/^ANBAO_CONSOLE_CLIENT_SECRET=//p')
    ANBAO_KEYCLOAK_URL="http://127.0.0.1:$KC_PORT" ANBAO_KEYCLOAK_ADMIN_USERNAME="$user" \
        ANBAO_KEYCLOAK_ADMIN_PASSWORD="$pass" ANBAO_KEYCLOAK_CLIENT_SECRET="$api_secret" \
        ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET="$admin_secret" \
        ANBAO_CONSOLE_CLIENT_SECRET="$console_secret" "$anbao" iam apply \
        "$ANBAO_ROOT"/deploy/keycloak/court-realm.yaml "$ANBAO_ROOT"/deploy/keycloak/anbao-realm.yaml >&2 \
        || die "anbao iam apply deploy/keycloak/*.yaml failed"
    exec 9>&-
}

admin_env() {
    if [ -n "${KEYCLOAK_ADMIN_PASSWORD:-}" ]; then
        printf 'KEYCLOAK_ADMIN_USERNAME=%s\nKEYCLOAK_ADMIN_PASSWORD=%s\n' \
            "${KEYCLOAK_ADMIN_USERNAME:-admin}" "$KEYCLOAK_ADMIN_PASSWORD"
        return
    fi
    if [ ! -s "$SECRETS" ]; then
        (umask 077; printf 'KEYCLOAK_ADMIN_USERNAME=%s\nKEYCLOAK_ADMIN_PASSWORD=%s\n' \
            "${KEYCLOAK_ADMIN_USERNAME:-admin}" "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" > "$SECRETS")
    fi
    cat "$SECRETS"
}

# client_secret_env VARIABLE FILE: a client's secret, the variable's value when set, else
# generated once and kept (mode 0600) in FILE; printed as VARIABLE=secret.
client_secret_env() {
    local name=$1 file=$2
    if [ -n "${!name:-}" ]; then
        printf '%s=%s\n' "$name" "${!name}"; return
    fi
    if [ ! -s "$file" ]; then
        (umask 077; printf '%s=%s\n' "$name" \
            "$(head -c 32 /dev/urandom | base64 | tr -d '/+=')" > "$file")
    fi
    cat "$file"
}

api_client_env() { client_secret_env ANBAO_KEYCLOAK_CLIENT_SECRET "$API_SECRET"; }
admin_client_env() { client_secret_env ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET "$ADMIN_CLIENT_SECRET"; }
console_client_env() { client_secret_env ANBAO_CONSOLE_CLIENT_SECRET "$CONSOLE_CLIENT_SECRET"; }

start() {
    if pid_alive "$PIDFILE" && healthy >/dev/null 2>&1; then
        log "keycloak already running and healthy (pid $(cat "$PIDFILE"))"; apply_realms; return 0
    fi
    pid_alive "$PIDFILE" && stop_pid keycloak "$PIDFILE"
    local zip java_home
    zip=$(fetch_zip org.keycloak keycloak-quarkus-dist "$KEYCLOAK_VERSION")
    unpack "$zip" "$KC_HOME"
    java_home=$(pick_java 21)
    local user pass
    eval "$(admin_env | sed 's/^/local /')"
    user=$KEYCLOAK_ADMIN_USERNAME pass=$KEYCLOAK_ADMIN_PASSWORD
    log "starting keycloak $KEYCLOAK_VERSION on 127.0.0.1:$KC_PORT (JDK $java_home, log $LOGFILE)"
    local t0=$SECONDS
    JAVA_HOME="$java_home" KC_BOOTSTRAP_ADMIN_USERNAME="$user" KC_BOOTSTRAP_ADMIN_PASSWORD="$pass" \
        JAVA_OPTS_KC_HEAP="-Xms256m -Xmx1g" \
        setsid "$KC_HOME/bin/kc.sh" start-dev \
            --http-host=127.0.0.1 --http-port="$KC_PORT" \
            --http-management-port="$KC_MGMT_PORT" --health-enabled=true --metrics-enabled=true \
            --hostname-strict=false \
            >"$LOGFILE" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    wait_healthy keycloak "$PIDFILE" "$LOGFILE" "$TIMEOUT" healthy || { stop_pid keycloak "$PIDFILE"; exit 1; }
    echo "$(( SECONDS - t0 ))" > "$ANBAO_STATE/keycloak.startup-seconds"
    apply_realms
}

case "${1:-}" in
    start) start ;;
    apply) apply_realms ;;
    stop) stop_pid keycloak "$PIDFILE" ;;
    status) if pid_alive "$PIDFILE" && healthy >/dev/null 2>&1; then echo healthy; else echo down; exit 1; fi ;;
    env) admin_env; api_client_env; admin_client_env; console_client_env; echo "KEYCLOAK_URL=http://127.0.0.1:$KC_PORT" ;;
    *) echo "usage: $0 start|stop|status|env|apply" >&2; exit 2 ;;
esac
