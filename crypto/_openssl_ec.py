"""SM2 verification arithmetic on public data only: ``sG + tP``, with tables for known keys.

Why not ``EVP_DigestVerify``: OpenSSL 3.0 computes ``sG + tP`` with one interleaved wNAF over
a group without any precomputation, and loading a key into an ``EVP_PKEY`` costs extra.
Verification involves only public values (signature, message, public key), so variable-time
arithmetic is safe here, and libcrypto's own ``EC_GROUP_precompute_mult`` tables cut the work:

* the generator table is built once per process; a key seen for the first time verifies with
  one ``EC_POINT_mul`` over that group (``sG`` from the table, ``tP`` by wNAF), which is
  cheaper than the EVP path even for a brand-new key;
* a per-key table (a copy of the group with ``P`` as generator) costs about as much as a few
  verifications, so it is built only for a key seen repeatedly: on its ``TABLE_ON_USE``-th
  verification, counted by the key's bytes across every object that holds it (a certificate
  decoded again, a trust store re-read, a copy) in a process-wide, bounded registry. A
  verification service mostly sees keys once (each new seal's holder) and a few keys all the
  time (its CAs, the seal makers): the first never pay for a table, the second pay once.

With both tables the two products are computed separately (wNAF "splitting" leaves few
doublings each) and added. A single-scalar ``EC_POINT_mul`` would take OpenSSL's
constant-time ladder and ignore the table, so each call passes a dummy extra point with scalar
zero, which keeps the call on the (public-data) wNAF path. The result is compared with ``r`` in
Python (GB/T 32918.2 §7.1 B7). Secret scalars never come here.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections import OrderedDict
from typing import Final

from crypto import _openssl as ossl
from crypto.errors import CryptoError, InvalidKey

TABLE_ON_USE: Final = 3  # a key's verification that builds its table (1: the first)
TRACKED_KEYS: Final = 1024  # keys whose uses are counted (least recently used forgotten)
TABLES: Final = 64  # keys that hold a table at a time (least recently used dropped)


class _Curve:
    """The SM2 group with a generator table, shared read-only by all threads."""

    def __init__(self) -> None:
        lib = ossl.lib()
        group = lib.EC_GROUP_new_by_curve_name(ossl.NID_SM2)
        if not group:
            raise ossl.fail(CryptoError, "SM2 curve unavailable")
        self.group = int(group)
        weakref.finalize(self, lib.EC_GROUP_free, self.group)
        ossl.check(lib.EC_GROUP_precompute_mult(self.group, None), CryptoError, "precompute")
        self.generator = int(lib.EC_GROUP_get0_generator(self.group))
        self.zero = ossl.bn_from_int(0)
        weakref.finalize(self, lib.BN_free, self.zero)


_curve: _Curve | None = None
_curve_lock = threading.Lock()


def curve() -> _Curve:
    """The process-wide SM2 group (built on first use, under a lock)."""
    global _curve  # noqa: PLW0603 - lazily built singleton
    with _curve_lock:
        if _curve is None:
            _curve = _Curve()
        return _curve


class _Table:
    """A per-key group (generator = P, precomputed); freed when the last holder drops it."""

    def __init__(self, point: int) -> None:
        lib, c = ossl.lib(), curve()
        group = int(lib.EC_GROUP_dup(c.group) or 0)
        if not group:
            raise ossl.fail(CryptoError, "out of memory")
        try:
            order = lib.EC_GROUP_get0_order(c.group)
            cof = lib.EC_GROUP_get0_cofactor(c.group)
            ok = lib.EC_GROUP_set_generator(group, point, order, cof)
            ossl.check(ok and lib.EC_GROUP_precompute_mult(group, None), CryptoError, "table")
        except CryptoError:
            lib.EC_GROUP_free(group)
            raise
        self.group = group
        weakref.finalize(self, lib.EC_GROUP_free, group)


class _Registry:
    """Use counts and tables by key bytes, both bounded, least recently used dropped first.

    A verification in flight holds its ``_Table`` object, so dropping one from the registry
    never frees a group that another thread is using.
    """

    def __init__(self) -> None:
        self._uses: OrderedDict[bytes, int] = OrderedDict()
        self._tables: OrderedDict[bytes, _Table] = OrderedDict()
        self._lock = threading.Lock()

    def table(self, key: bytes, point: int) -> _Table | None:
        """Count one use of ``key``; its table, built on the TABLE_ON_USE-th use, or None."""
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table
            uses = self._uses.pop(key, 0) + 1
            self._uses[key] = uses
            while len(self._uses) > TRACKED_KEYS:
                self._uses.popitem(last=False)
        if uses < TABLE_ON_USE:
            return None
        table = _Table(point)  # outside the lock: other keys verify meanwhile
        with self._lock:
            table = self._tables.setdefault(key, table)  # another thread may have won
            self._tables.move_to_end(key)
            while len(self._tables) > TABLES:
                self._tables.popitem(last=False)
        return table

    def counts(self) -> tuple[int, int]:
        """(keys counted, keys with a table), for tests and operators."""
        with self._lock:
            return len(self._uses), len(self._tables)

    def has_table(self, key: bytes) -> bool:
        """Whether ``key`` holds a table now (tests)."""
        with self._lock:
            return key in self._tables

    def clear(self) -> None:
        """Forget every count and drop every table (tests and cold benchmarks)."""
        with self._lock:
            self._uses.clear()
            self._tables.clear()


registry = _Registry()


class VerifyKey:
    """A public point in libcrypto form; its table, if any, lives in the registry."""

    def __init__(self, point: bytes) -> None:
        lib, c = ossl.lib(), curve()
        self._key = point
        self._point = int(lib.EC_POINT_new(c.group) or 0)
        if not self._point:
            raise ossl.fail(CryptoError, "out of memory")
        weakref.finalize(self, lib.EC_POINT_free, self._point)
        ok = lib.EC_POINT_oct2point(c.group, self._point, point, len(point), None)
        ossl.check(ok, InvalidKey, "public key point is not on the SM2 curve")

    def x_of_sg_plus_tp(self, s: int, t: int) -> bytes | None:
        """Affine x of ``sG + tP`` (32 bytes), or None for the point at infinity."""
        lib, c = ossl.lib(), curve()
        table = registry.table(self._key, self._point)
        ctx = r1 = r2 = x = bn_s = bn_t = None  # all *_free functions accept NULL
        try:
            ctx, r1, r2, x = (
                lib.BN_CTX_new(),
                lib.EC_POINT_new(c.group),
                lib.EC_POINT_new(c.group),
                lib.BN_new(),
            )
            if not (ctx and r1 and r2 and x):
                raise ossl.fail(CryptoError, "out of memory")
            bn_s, bn_t = ossl.bn_from_int(s), ossl.bn_from_int(t)
            if table is not None:
                _mul_with_table(c.group, r1, bn_s, ctx)
                _mul_with_table(table.group, r2, bn_t, ctx)
                ok = lib.EC_POINT_add(c.group, r1, r1, r2, ctx)
            else:
                ok = lib.EC_POINT_mul(c.group, r1, bn_s, self._point, bn_t, ctx)
            ossl.check(ok, CryptoError, "point arithmetic failed")
            if lib.EC_POINT_is_at_infinity(c.group, r1):
                return None
            ok = lib.EC_POINT_get_affine_coordinates(c.group, r1, x, None, ctx)
            ossl.check(ok, CryptoError, "point arithmetic failed")
            return ossl.bn_to_bytes(x)
        finally:
            lib.EC_POINT_free(r1)
            lib.EC_POINT_free(r2)
            for bn in (bn_s, bn_t, x):
                lib.BN_free(bn)
            lib.BN_CTX_free(ctx)


def _mul_with_table(group: int, out: int, k: int, ctx: int) -> None:
    """``out = k * generator(group)`` via the table; ``G * 0`` keeps it off the ladder path."""
    c = curve()
    points = (ctypes.c_void_p * 1)(c.generator)
    scalars = (ctypes.c_void_p * 1)(c.zero)
    ok = ossl.lib().EC_POINTs_mul(group, out, k, 1, points, scalars, ctx)
    ossl.check(ok, CryptoError, "point arithmetic failed")
