# Shared by the deploy/cluster scripts: the cluster's state directory and its local CA, so that
# every engine of the cluster (Keycloak, Elasticsearch, Anbao's clients) trusts one CA file.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

CL_STATE="${ANBAO_CLUSTER_STATE:-$ANBAO_CACHE/cluster}"
TLS="$CL_STATE/tls"
CA="$TLS/ca.crt"
mkdir -p "$CL_STATE"

# tls_ca: the cluster's local CA in $TLS (RSA 3072, 825 days), made once; key 0600, dir 0700.
tls_ca() {
    [ -s "$CA" ] && [ -s "$TLS/ca.key" ] && return 0
    log "making the cluster's local CA in $TLS"
    mkdir -p "$TLS" && chmod 700 "$TLS"
    (
        umask 077; cd "$TLS"
        openssl req -x509 -newkey rsa:3072 -nodes -days 825 -keyout ca.key -out ca.crt \
            -subj "/CN=Anbao cluster local CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        chmod 644 ca.crt
    ) >"$CL_STATE/openssl.log" 2>&1 || { cat "$CL_STATE/openssl.log" >&2; die "openssl could not make the CA"; }
}

# tls_cert NAME CN: $TLS/NAME.crt and NAME.key (RSA 2048, 397 days) for IP:127.0.0.1 and
# DNS:localhost, signed by the cluster CA, usable as server and as client (TLS between nodes);
# made once.
tls_cert() {
    local name="$1" cn="$2"
    [ -s "$TLS/$name.crt" ] && [ -s "$TLS/$name.key" ] && return 0
    tls_ca
    log "making certificate $name ($cn) signed by the cluster CA"
    (
        umask 077; cd "$TLS"
        openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn"
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth,clientAuth" > "$name.ext"
        openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 397 \
            -extfile "$name.ext" -out "$name.crt"
        rm -f "$name.csr" "$name.ext"
        chmod 644 "$name.crt"
    ) >"$CL_STATE/openssl.log" 2>&1 || { cat "$CL_STATE/openssl.log" >&2; die "openssl could not make $name"; }
}

# random_secret: 32 URL-safe characters from /dev/urandom.
random_secret() { head -c 24 /dev/urandom | base64 | tr -d '/+='; }

# serialized LOCK CMD...: run CMD holding $CL_STATE/LOCK (flock, waiting up to WAIT seconds,
# default 900): one up or down of an engine at a time, since test sessions and benches share
# the cluster and two `up`s racing start a node twice (the second loses the ports, and its PID
# file replaces the first's). Servers started under it must get no copy of the lock's
# descriptor (start them with 8>&-), or they would hold the lock.
serialized() {
    local lock="$CL_STATE/$1"; shift
    exec 8>"$lock"
    flock -w "${WAIT:-900}" 8 || die "another up/down holds $lock"
    "$@"
}
