#!/usr/bin/env bash
# `make run`: Keycloak, the development demo data (unless ANBAO_DEMO=0), then the API with the
# embedded audit store, in the foreground. Ctrl-C stops the API and whatever this script
# started, and exits 0.
source "$(dirname "$0")/lib.sh"
cd "$ANBAO_ROOT"
anbao="$ANBAO_ROOT/.venv/bin/anbao"

started_keycloak=0
"$ANBAO_ROOT/deploy/local/keycloak.sh" status >/dev/null 2>&1 || started_keycloak=1
"$ANBAO_ROOT/deploy/local/keycloak.sh" start
cleanup() { [ "$started_keycloak" = 1 ] && "$ANBAO_ROOT/deploy/local/keycloak.sh" stop; true; }
trap cleanup EXIT
# Ctrl-C is how this foreground command is meant to end: the API stops cleanly, so exit 0.
trap 'exit 0' INT
trap 'exit 143' TERM

eval "$("$ANBAO_ROOT/deploy/local/keycloak.sh" env | sed 's/^/export /')"
export ANBAO_KEYCLOAK_URL="$KEYCLOAK_URL"
# Anbao administers the realm as its anbao-admin service account, as in production: `env` above
# exported ANBAO_KEYCLOAK_ADMIN_CLIENT_SECRET, which `keycloak.sh start` gave the client. The
# bootstrap admin below is for `anbao iam apply` (and a realm without that client).
export ANBAO_KEYCLOAK_ADMIN_USERNAME="${ANBAO_KEYCLOAK_ADMIN_USERNAME:-$KEYCLOAK_ADMIN_USERNAME}"
export ANBAO_KEYCLOAK_ADMIN_PASSWORD="${ANBAO_KEYCLOAK_ADMIN_PASSWORD:-$KEYCLOAK_ADMIN_PASSWORD}"
# High-risk routes introspect as the realm's anbao-api client; its secret comes from `env` above.
export ANBAO_KEYCLOAK_CLIENT_ID="${ANBAO_KEYCLOAK_CLIENT_ID:-anbao-api}"
port="${ANBAO_SERVER_PORT:-8000}"
realm="${ANBAO_KEYCLOAK_REALM:-anbao}"
# State (stores, spool, development keys) lives in the settings' data directory, which the CLI
# finds from any working directory: ANBAO_DATA_DIR, else ~/.local/state/anbao (XDG).
data_dir="$("$anbao" settings | "$ANBAO_ROOT/.venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["data_dir"])')"
if [ -d "$ANBAO_ROOT/.anbao" ] && [ "$ANBAO_ROOT/.anbao" != "$data_dir" ]; then
    log "state is no longer kept in $ANBAO_ROOT/.anbao: move its files to $data_dir," \
        "or export ANBAO_DATA_DIR=$ANBAO_ROOT/.anbao"
fi

# Demo data (docs/first-run.md): an org tree, one person per role, an app, seals and report
# sign-off turned on with development keys. Idempotent; ANBAO_DEMO=0 skips it.
demo=""
if [ "${ANBAO_DEMO:-1}" != 0 ]; then
    "$anbao" dev seed | grep -v '^exists ' >&2
    export ANBAO_CONFIG="${ANBAO_CONFIG:-$data_dir/demo/anbao.toml}"
    demo=1
fi

cat <<MSG

  Anbao console    http://127.0.0.1:$port/console/   (sign in as any demo person below; 中文, English)
  Seal verifier    http://127.0.0.1:$port/console/verify   (public: anyone checks a signed OFD)
  Anbao API        http://127.0.0.1:$port   (GET /healthz, /readyz, /openapi.json, /metrics, /whoami)
  Keycloak         $KEYCLOAK_URL/admin/   realm "$realm"
  Keycloak admin   user "$KEYCLOAK_ADMIN_USERNAME", password in $ANBAO_STATE/keycloak-admin.env
                   (or set KEYCLOAK_ADMIN_PASSWORD before the first start)
  Anbao state      $data_dir   (ANBAO_DATA_DIR; \`anbao …\` commands find it from anywhere)
  The CLI          $anbao   (or: source .venv/bin/activate)
MSG
if [ -n "$demo" ]; then
    cat <<MSG
  Settings         ANBAO_CONFIG=$ANBAO_CONFIG   (seals, report sign-off; development keys)

  Demo people (DEVELOPMENT ONLY: fixed, published credentials; \`anbao dev people\`)
$("$anbao" dev people)
  Administrators (platform-admin, org-admin, seal-admin) and step-up ask for an OTP code:
  \`.venv/bin/anbao dev otp\` prints the current one (or add the key to an authenticator app).

  Try first
  1. Open http://127.0.0.1:$port/console/ and sign in as demo-analyst (password above);
     administrators (demo-admin, demo-org-admin) also type the code of \`.venv/bin/anbao dev otp\`
  2. curl -s http://127.0.0.1:$port/readyz
  3. The demo app (permits-demo, examples/permits_app.py), in another shell:
     PERMITS_REALM=$realm .venv/bin/uvicorn --app-dir examples permits_app:app --port 8765
     then open http://127.0.0.1:8765/ and sign in as any demo person.
  More: docs/first-run.md
MSG
fi
cat <<MSG

  The command line as a person: \`.venv/bin/anbao login\` prints a link and a code (open it,
  sign in, confirm), then e.g. \`anbao whoami\`, \`anbao siem alerts list\`; \`anbao logout\` ends it.
  Other clients get tokens through the realm's client "anbao-console" (authorization code with
  PKCE; redirect URI http://127.0.0.1:8000/callback as the realm file sets it). Apps onboarded
  through POST /iam/apps get tokens for themselves only: Anbao's API refuses them.
  Ctrl-C stops the API$( [ "$started_keycloak" = 1 ] && echo " and Keycloak").

MSG
"$anbao" serve
