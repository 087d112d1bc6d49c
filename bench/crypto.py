"""Benchmark Anbao's SM2/SM3/SM4 against ``openssl speed`` and gmssl; prints one JSON document.

Run: ``.venv/bin/python bench/crypto.py [--quick]``. Everything is measured in the same run on
the same machine, in CPU time on both sides (``openssl speed`` reports user CPU time), so the
ratios stay meaningful on a shared host.

- SM2: ops/s for sign and verify. Anbao "verify" is the steady state (a key reused, as the
  platform does for CA certificates); "verify_cold" verifies under a key never seen before:
  each call takes the next key of a pool generated outside the timed loop (a fresh
  ``PublicKey`` from 65 bytes, verified once). "verify_cold_evp" is the same pool through
  libcrypto's own path (load the key into an ``EVP_PKEY``, ``EVP_DigestVerify``), the
  alternative ``crypto._openssl_ec`` is measured against. OpenSSL is ``openssl speed -seconds N
  sm2`` (EVP_DigestSign/Verify in C, key loaded once). gmssl runs only a few iterations (it
  is slow); its signing uses a throwaway key (its nonce is predictable).
- SM3 / SM4-CBC / SM4-CTR / SM4-GCM: MB/s (10^6 bytes) at 1 KiB and 1 MiB for Anbao and
  ``openssl speed -evp ALG -bytes N -seconds N``. OpenSSL 3.0 has no SM4-GCM: reported null.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gmssl import sm2 as gm_sm2

from crypto import _openssl, _openssl_ec, _openssl_keys, sm2, sm3, sm4

SIZES = (1024, 1 << 20)


def rate(fn: Callable[[], object], seconds: float, min_calls: int = 1) -> float:
    """Calls per CPU second of ``fn`` over about ``seconds`` of CPU time.

    CPU time, not wall time, because ``openssl speed`` divides by user CPU time by default and
    this host is shared: wall time would charge other tenants' load to Anbao only.
    """
    fn()  # warm-up
    calls, start = 0, time.process_time()
    while True:
        fn()
        calls += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds and calls >= min_calls:
            return calls / elapsed


def openssl_speed_sm2(seconds: int) -> tuple[float, float]:
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "sm2"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"SM2 \(CurveSM2\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    if m is None:
        raise RuntimeError("cannot parse `openssl speed sm2` output")
    return float(m.group(1)), float(m.group(2))


def openssl_speed_evp(alg: str, size: int, seconds: int) -> float | None:
    """MB/s from ``openssl speed -evp``; None if this OpenSSL lacks the algorithm."""
    proc = subprocess.run(
        ["openssl", "speed", "-evp", alg, "-bytes", str(size), "-seconds", str(seconds)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.lower().startswith(alg.lower())]
    if proc.returncode != 0 or not lines:
        return None
    return float(lines[-1].split()[-1].rstrip("k")) * 1000 / 1e6


def pool_rate(fn: Callable[[bytes, bytes], object], pool: list[tuple[bytes, bytes]]) -> float:
    """Calls per CPU second of ``fn(point, signature)``, once per pool item."""
    _openssl_ec.registry.clear()  # no key of the pool has a use count or a table
    start = time.process_time()
    for point, signature in pool:
        fn(point, signature)
    return len(pool) / (time.process_time() - start)


def evp_verify(point: bytes, signature: bytes, msg: bytes) -> None:
    """libcrypto's own verification: the key loaded into an EVP_PKEY, EVP_DigestVerify."""
    lib, uid = _openssl.lib(), sm2.DEFAULT_UID
    pkey = _openssl_keys.load_public(_openssl_keys.SPKI_PREFIX + point)
    mctx, pctx = lib.EVP_MD_CTX_new(), lib.EVP_PKEY_CTX_new(pkey, None)
    try:
        ok = lib.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid))
        lib.EVP_MD_CTX_set_pkey_ctx(mctx, pctx)
        ok = ok and lib.EVP_DigestVerifyInit(mctx, None, lib.sm3, None, pkey)
        if not (ok and lib.EVP_DigestVerify(mctx, signature, len(signature), msg, len(msg)) == 1):
            raise SystemExit("EVP_DigestVerify refused a good signature")
    finally:
        lib.EVP_MD_CTX_free(mctx)
        lib.EVP_PKEY_CTX_free(pctx)
        lib.EVP_PKEY_free(pkey)


def bench_sm2(seconds: int, gm_iters: int, cold_keys: int) -> dict[str, object]:
    key = sm2.PrivateKey.generate()
    pub, msg = key.public_key(), os.urandom(20)  # 20 bytes: what `openssl speed sm2` signs
    sig = key.sign(msg)
    fresh = [sm2.PrivateKey.generate() for _ in range(cold_keys)]
    pool = [(k.public_key().to_bytes(), k.sign(msg)) for k in fresh]
    anbao_sign = rate(lambda: key.sign(msg), seconds)
    anbao_verify = rate(lambda: pub.verify(sig, msg), seconds)

    def ours(point: bytes, signature: bytes) -> None:
        sm2.PublicKey.from_bytes(point).verify(signature, msg)

    def evp(point: bytes, signature: bytes) -> None:
        evp_verify(point, signature, msg)

    anbao_cold, evp_cold = pool_rate(ours, pool), pool_rate(evp, pool)
    ossl_sign, ossl_verify = openssl_speed_sm2(seconds)

    throwaway = "%064x" % int.from_bytes(os.urandom(31), "big")  # noqa: UP031 - fixed width hex
    gm_pub = sm2.PrivateKey.from_bytes(bytes.fromhex(throwaway)).public_key().to_bytes()[1:].hex()
    gm = gm_sm2.CryptSM2(private_key=throwaway, public_key=gm_pub)
    gm_sig = gm.sign_with_sm3(msg)
    gm_sign = rate(lambda: gm.sign_with_sm3(msg), 0, gm_iters)
    gm_verify = rate(lambda: gm.verify_with_sm3(gm_sig, msg), 0, gm_iters)

    def row(anbao: float, ossl: float, gmssl: float) -> dict[str, float]:
        return {
            "anbao": round(anbao, 1),
            "openssl": round(ossl, 1),
            "gmssl": round(gmssl, 1),
            "ratio_vs_openssl": round(anbao / ossl, 3),
            "ratio_vs_gmssl": round(anbao / gmssl, 1),
        }

    return {
        "unit": "ops/s",
        "sign": row(anbao_sign, ossl_sign, gm_sign),
        "verify": row(anbao_verify, ossl_verify, gm_verify),
        "verify_cold": row(anbao_cold, ossl_verify, gm_verify),
        "verify_cold_evp": row(evp_cold, ossl_verify, gm_verify),
        "verify_cold_vs_evp_cold": round(anbao_cold / evp_cold, 3),
    }


def bench_bulk(seconds: int) -> dict[str, object]:
    key, iv16, iv12 = os.urandom(16), os.urandom(16), os.urandom(12)
    ops: dict[str, tuple[str, Callable[[bytes], object]]] = {
        "sm3": ("sm3", sm3.digest),
        "sm4-cbc": ("sm4-cbc", lambda b: sm4.cbc_encrypt(key, iv16, b)),
        "sm4-ctr": ("sm4-ctr", lambda b: sm4.ctr_crypt(key, iv16, b)),
        "sm4-gcm": ("sm4-gcm", lambda b: sm4.gcm_encrypt(key, iv12, b)),
    }
    result: dict[str, object] = {"unit": "MB/s (10^6 bytes/s)"}
    for name, (alg, fn) in ops.items():
        per_size: dict[str, object] = {}
        for size in SIZES:
            buf = os.urandom(size)
            anbao = rate(lambda fn=fn, buf=buf: fn(buf), seconds) * size / 1e6
            ossl = openssl_speed_evp(alg, size, seconds)
            per_size[str(size)] = {
                "anbao": round(anbao, 1),
                "openssl": None if ossl is None else round(ossl, 1),
                "ratio_vs_openssl": None if ossl is None else round(anbao / ossl, 3),
            }
        result[name] = per_size
    return result


def main() -> None:
    quick = "--quick" in sys.argv
    seconds = 1 if quick else 3
    report = {
        "host": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "openssl_cli": subprocess.run(
                ["openssl", "version"], capture_output=True, text=True, check=True
            ).stdout.strip(),
            "timing": "CPU time (Anbao: process_time; openssl speed: its default user time)",
            "load_avg_start": os.getloadavg()[0],
        },
        "sm2": bench_sm2(seconds, 5 if quick else 30, 400 if quick else 2000),
        "bulk": bench_bulk(1 if quick else 2),
    }
    report["host"]["load_avg_end"] = os.getloadavg()[0]  # type: ignore[index]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
