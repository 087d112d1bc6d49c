# Shared helpers for the local server scripts: fetch from Maven Central, cache outside the repo,
# start in the background with a PID file, wait for health, stop by PID.
# shellcheck shell=bash
set -euo pipefail

ANBAO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=../versions.env
source "$ANBAO_ROOT/deploy/versions.env"
ANBAO_CACHE="${ANBAO_CACHE:-$HOME/.cache/anbao}"
ANBAO_STATE="${ANBAO_STATE:-$ANBAO_CACHE/run}"
mkdir -p "$ANBAO_CACHE/dist" "$ANBAO_STATE"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# pick_java: the first candidate JDK whose major version is >= $1.
pick_java() {
    local want="$1" home major
    for home in ${ANBAO_JAVA_HOME:-} $ANBAO_JAVA_HOME_CANDIDATES; do
        [ -x "$home/bin/java" ] || continue
        major=$("$home/bin/java" -XshowSettings:properties -version 2>&1 \
            | awk -F'= ' '/java.specification.version/ {print $2}')
        if [ "${major%%.*}" -ge "$want" ]; then echo "$home"; return 0; fi
    done
    die "no JDK >= $want found (looked at ${ANBAO_JAVA_HOME:-} $ANBAO_JAVA_HOME_CANDIDATES); set ANBAO_JAVA_HOME"
}

# fetch_zip GROUP ARTIFACT VERSION: path of the zip, downloaded once through Maven.
fetch_zip() {
    local group="$1" artifact="$2" version="$3"
    local out="$ANBAO_CACHE/dist/$artifact-$version.zip"
    if [ ! -s "$out" ]; then
        log "fetching $group:$artifact:$version:zip from Maven Central"
        mvn -q -B dependency:copy -Dartifact="$group:$artifact:$version:zip" \
            -DoutputDirectory="$ANBAO_CACHE/dist.tmp" -Dmdep.overWriteReleases=true >&2 \
            || die "mvn could not fetch $group:$artifact:$version"
        mv "$ANBAO_CACHE/dist.tmp/$artifact-$version.zip" "$out.part" && mv "$out.part" "$out"
    fi
    echo "$out"
}

# unpack ZIP DIR: unzip once; the directory is the server's home.
unpack() {
    local zip="$1" dir="$2"
    if [ ! -d "$dir" ]; then
        local tmp="$dir.tmp"
        rm -rf "$tmp" && mkdir -p "$tmp"
        unzip -q "$zip" -d "$tmp"
        mv "$tmp"/*/ "$dir" && rm -rf "$tmp"
    fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_healthy NAME PIDFILE LOGFILE TIMEOUT CHECK...: poll CHECK until it succeeds.
wait_healthy() {
    local name="$1" pidfile="$2" logfile="$3" timeout="$4"; shift 4
    local start=$SECONDS
    while (( SECONDS - start < timeout )); do
        if "$@" >/dev/null 2>&1; then
            log "$name healthy after $(( SECONDS - start ))s"
            return 0
        fi
        if ! pid_alive "$pidfile"; then
            log "$name exited during start-up; last lines of $logfile:"
            tail -n 40 "$logfile" >&2 || true
            return 1
        fi
        sleep 1
    done
    log "$name not healthy after ${timeout}s; last lines of $logfile:"
    tail -n 40 "$logfile" >&2 || true
    return 1
}

# stop_pid NAME PIDFILE: TERM, wait, then KILL; removes the PID file.
stop_pid() {
    local name="$1" pidfile="$2" pid i
    if ! pid_alive "$pidfile"; then rm -f "$pidfile"; log "$name not running"; return 0; fi
    pid=$(cat "$pidfile")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && { log "$name did not stop; killing"; kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"; }
    rm -f "$pidfile"
    log "$name stopped"
}
