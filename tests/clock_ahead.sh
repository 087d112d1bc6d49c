#!/usr/bin/env bash
# Run a command with the system clock moved by Debian's faketime (apt-get install faketime), to
# show that no test depends on today's date, e.g. the unit suite a year and two years ahead:
#   tests/clock_ahead.sh +365d .venv/bin/python -m pytest tests/unit -q -p no:cacheprovider
#   tests/clock_ahead.sh +730d .venv/bin/python -m pytest tests/unit -q -p no:cacheprovider
# Child processes (openssl, servers started by tests) see the moved clock too.
#
# Monotonic time stays real (FAKETIME_DONT_FAKE_MONOTONIC): libfaketime 0.9.10 does not see
# CPython's timed lock waits (sem_clockwait), which would wait for the faked year (libfaketime
# issue #390). It shifts an absolute monotonic sleep (clock_nanosleep, CPython >= 3.11's
# time.sleep) by the offset anyway, and the kernel refuses the negative time (issue #426): a
# small preload, built here, sleeps on the real monotonic clock instead.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OFFSET COMMAND..." >&2; exit 2; }
offset="$1"; shift
command -v faketime >/dev/null || { echo "$0: faketime is not installed" >&2; exit 2; }
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
cat > "$build/monotonic_sleep.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*sleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem) {
    if (id == CLOCK_MONOTONIC) {
        return syscall(SYS_clock_nanosleep, id, flags, req, rem) == 0 ? 0 : errno;
    }
    return ((sleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep"))(id, flags, req, rem);
}
C
cc -shared -fPIC -O2 -Wall -o "$build/monotonic_sleep.so" "$build/monotonic_sleep.c" -ldl
LD_PRELOAD="$build/monotonic_sleep.so" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    faketime -f "$offset" "$@"
