#!/usr/bin/env bash
# `make run`: Keycloak, then the API with the embedded audit store, in the foreground.
# Ctrl-C stops the API and whatever this script started.
source "$(dirname "$0")/lib.sh"
cd "$ANBAO_ROOT"

started_keycloak=0
"$ANBAO_ROOT/deploy/local/keycloak.sh" status >/dev/null 2>&1 || started_keycloak=1
"$ANBAO_ROOT/deploy/local/keycloak.sh" start
cleanup() { [ "$started_keycloak" = 1 ] && "$ANBAO_ROOT/deploy/local/keycloak.sh" stop; }
trap cleanup EXIT
trap 'exit 130' INT TERM

eval "$("$ANBAO_ROOT/deploy/local/keycloak.sh" env | sed 's/^/export /')"
export ANBAO_KEYCLOAK_URL="$KEYCLOAK_URL"
# Local development only: Anbao administers the realm with the bootstrap admin. Production gives
# Anbao a service account with realm-management roles instead (deploy/production/README.md).
export ANBAO_KEYCLOAK_ADMIN_USERNAME="${ANBAO_KEYCLOAK_ADMIN_USERNAME:-$KEYCLOAK_ADMIN_USERNAME}"
export ANBAO_KEYCLOAK_ADMIN_PASSWORD="${ANBAO_KEYCLOAK_ADMIN_PASSWORD:-$KEYCLOAK_ADMIN_PASSWORD}"
# High-risk routes introspect as the realm's anbao-api client; its secret comes from `env` above.
export ANBAO_KEYCLOAK_CLIENT_ID="${ANBAO_KEYCLOAK_CLIENT_ID:-anbao-api}"
port="${ANBAO_SERVER_PORT:-8000}"
# State (stores, spool, development keys) lives in the settings' data directory, which the CLI
# finds from any working directory: ANBAO_DATA_DIR, else ~/.local/state/anbao (XDG).
data_dir="$("$ANBAO_ROOT/.venv/bin/anbao" settings \
    | "$ANBAO_ROOT/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["data_dir"])')"
if [ -d "$ANBAO_ROOT/.anbao" ] && [ "$ANBAO_ROOT/.anbao" != "$data_dir" ]; then
    log "state is no longer kept in $ANBAO_ROOT/.anbao: move its files to $data_dir," \
        "or export ANBAO_DATA_DIR=$ANBAO_ROOT/.anbao"
fi
cat <<MSG

  Anbao API        http://127.0.0.1:$port   (GET /readyz, /openapi.json, /metrics)
  Keycloak         $KEYCLOAK_URL/admin/     realm "anbao"
  Keycloak admin   user "$KEYCLOAK_ADMIN_USERNAME", password in $ANBAO_STATE/keycloak-admin.env
                   (or set KEYCLOAK_ADMIN_PASSWORD before the first start)
  Anbao state      $data_dir   (ANBAO_DATA_DIR; \`anbao …\` commands find it from anywhere)
  A token for the API: sign in through the realm's own client "anbao-console" (authorization
  code with PKCE; its redirect URI is http://127.0.0.1:$port/callback), then call GET /whoami
  with "Authorization: Bearer <access token>". Apps onboarded through POST /iam/apps get tokens
  for themselves only: Anbao's API refuses them.
  Ctrl-C stops the API$( [ "$started_keycloak" = 1 ] && echo " and Keycloak").

MSG
"$ANBAO_ROOT/.venv/bin/anbao" serve
