"""SM2 verification arithmetic on public data only: ``sG + tP`` with precomputed tables.

Why not ``EVP_DigestVerify``: OpenSSL 3.0 computes ``sG + tP`` with one interleaved wNAF over
the SM2 curve without any precomputation (~256 doublings per verification). Verification
involves only public values (signature, message, public key), so variable-time arithmetic is
safe here, and libcrypto's own ``EC_GROUP_precompute_mult`` tables cut the work sharply:

* the generator table is built once per process;
* a per-key table (a copy of the group with ``P`` as generator, ~85 KB) is built on a key's
  third verification: building costs ~0.6 ms (about two verifications), each later
  verification then saves ~0.17 ms, so keys verified once or twice never pay for it.

With both tables the two products are computed separately (wNAF "splitting" leaves ~8
doublings each) and added. A single-scalar ``EC_POINT_mul`` would take OpenSSL's
constant-time ladder and ignore the table, so each call passes a dummy extra point with scalar
zero, which keeps the call on the (public-data) wNAF path. The result is compared with ``r`` in
Python (GB/T 32918.2 §7.1 B7). Secret scalars never come here.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from typing import Final

from crypto import _openssl as ossl
from crypto.errors import CryptoError, InvalidKey

_TABLE_AFTER: Final = 2  # build a per-key table once a key has verified this many times


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


class VerifyKey:
    """A public point in libcrypto form, with an optional per-key precomputed table."""

    def __init__(self, point: bytes) -> None:
        lib, c = ossl.lib(), curve()
        self._point = int(lib.EC_POINT_new(c.group) or 0)
        if not self._point:
            raise ossl.fail(CryptoError, "out of memory")
        weakref.finalize(self, lib.EC_POINT_free, self._point)
        ok = lib.EC_POINT_oct2point(c.group, self._point, point, len(point), None)
        ossl.check(ok, InvalidKey, "public key point is not on the SM2 curve")
        self._table_group = 0
        self._uses = 0
        self._lock = threading.Lock()

    def _table(self) -> int:
        """The per-key group (generator = P, precomputed), or 0 while not worth building."""
        with self._lock:
            self._uses += 1
            if self._table_group or self._uses <= _TABLE_AFTER:
                return self._table_group
            lib, c = ossl.lib(), curve()
            group = int(lib.EC_GROUP_dup(c.group) or 0)
            if not group:
                raise ossl.fail(CryptoError, "out of memory")
            try:
                order = lib.EC_GROUP_get0_order(c.group)
                cof = lib.EC_GROUP_get0_cofactor(c.group)
                ok = lib.EC_GROUP_set_generator(group, self._point, order, cof)
                ossl.check(ok and lib.EC_GROUP_precompute_mult(group, None), CryptoError, "table")
            except CryptoError:
                lib.EC_GROUP_free(group)
                raise
            weakref.finalize(self, lib.EC_GROUP_free, group)
            self._table_group = group
            return group

    def x_of_sg_plus_tp(self, s: int, t: int) -> bytes | None:
        """Affine x of ``sG + tP`` (32 bytes), or None for the point at infinity."""
        lib, c = ossl.lib(), curve()
        table = self._table()
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
            if table:
                _mul_with_table(c.group, r1, bn_s, ctx)
                _mul_with_table(table, r2, bn_t, ctx)
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
