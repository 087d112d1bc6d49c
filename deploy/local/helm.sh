#!/usr/bin/env bash
# helm, for linting and rendering deploy/helm/ (tests/integration/deploy/): built once from the Go
# module proxy (`go install helm.sh/helm/v4/cmd/helm@v$HELM_VERSION`), since only package
# registries are reachable and Debian ships no helm. The binary and Go's module and build caches
# live outside the repo in $ANBAO_CACHE/helm (default ~/.cache/anbao/helm), so a second run, or
# a fresh clone on the same machine, reuses them; a fresh machine builds it (a few minutes on two
# cores). Usage: deploy/local/helm.sh [path]   (prints the binary's path, building it if needed)
#                deploy/local/helm.sh run ARGS...  (runs helm with ARGS)
source "$(dirname "$0")/lib.sh"

HELM_HOME="${ANBAO_HELM_HOME:-$ANBAO_CACHE/helm}"
HELM_BIN="$HELM_HOME/bin/helm"
WANT="v$HELM_VERSION"

built() {
    [ -x "$HELM_BIN" ] && [ "$("$HELM_BIN" version --template '{{.Version}}' 2>/dev/null)" = "$WANT" ]
}

build() {
    command -v go >/dev/null 2>&1 || die "Go is needed to build helm $WANT (Go >= 1.24 on PATH)"
    mkdir -p "$HELM_HOME/bin"
    # One build at a time: concurrent test workers wait for the first one's binary.
    exec 9>"$HELM_HOME/.build.lock"
    flock 9
    built && return 0
    log "building helm $WANT with $(go version | awk '{print $3}') (once; a few minutes)"
    local start=$SECONDS
    # Go's caches inside HELM_HOME (-modcacherw: the module cache stays removable with rm -rf).
    # CGO off: a static binary that needs no C toolchain. Helm's own version is stamped by -ldflags
    # (its Makefile does the same), so `helm version` names the pinned release.
    env GOBIN="$HELM_HOME/bin" GOMODCACHE="$HELM_HOME/gomod" GOCACHE="$HELM_HOME/gocache" \
        GOPATH="$HELM_HOME/gopath" GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 \
        go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$WANT" \
        "helm.sh/helm/v4/cmd/helm@$WANT" >&2 || die "go install helm.sh/helm/v4/cmd/helm@$WANT failed"
    built || die "the built helm does not report $WANT: $("$HELM_BIN" version 2>&1 | head -n 1)"
    log "helm $WANT built in $(( SECONDS - start ))s: $HELM_BIN"
}

case "${1:-path}" in
    path) built || build; echo "$HELM_BIN" ;;
    run) shift; built || build; exec "$HELM_BIN" "$@" ;;
    *) die "usage: $0 [path|run ARGS...]" ;;
esac
