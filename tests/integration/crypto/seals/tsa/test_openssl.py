"""RFC 3161 interop with the ``openssl ts`` CLI: OpenSSL's SM3 requests, our SM2 replies.

OpenSSL makes the request and parses the reply; Anbao answers and verifies the token. Full
``openssl ts -verify`` of the chain is not asserted: OpenSSL 3.0 verifies SM2 certificate
signatures with an empty user ID, while the seal CA signs with GM/T 0009's default ID
(docs/pki.md explains the same limit for ``openssl verify``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from crypto.keystore import KekRing, MemoryWrappedKeys, SoftwareKeyStore
from crypto.seals.ca import CaConfig, CaRole, MemoryCaRepository, SealCa
from crypto.seals.tsa.authority import TimeStampAuthority, parse_response
from crypto.seals.tsa.verify import verify_token
from tests.integration.crypto.conftest import Openssl


def test_openssl_query_anbao_reply(openssl: Openssl, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    keys = SoftwareKeyStore(
        MemoryWrappedKeys(), KekRing.parse(KekRing.generate_entry("k1")), clock=lambda: now
    )
    ca = SealCa(MemoryCaRepository(), keys, CaConfig())
    ca.bootstrap(now)
    entity = ca.entity(CaRole.TSA)
    tsa = TimeStampAuthority(keys.signer(entity.key_id), entity.certificate, clock=lambda: now)

    data = tmp_path / "document.txt"
    data.write_bytes(b"an official notice\n")
    query = tmp_path / "q.tsq"
    openssl("ts", "-query", "-data", data, "-sm3", "-cert", "-out", query)
    reply = tmp_path / "r.tsr"
    reply.write_bytes(tsa.respond(query.read_bytes()))

    text = openssl("ts", "-reply", "-in", reply, "-text").stdout.decode()
    assert "Status: Granted." in text
    assert "Hash Algorithm: sm3" in text
    info = verify_token(
        parse_response(reply.read_bytes()),
        trust_roots=ca.trust_roots(),
        intermediates=ca.intermediates(),
        data=data.read_bytes(),
    )
    assert info.hash_algorithm == "1.2.156.10197.1.401"

    token = tmp_path / "token.der"
    openssl("ts", "-reply", "-in", reply, "-token_out", "-out", token)
    assert token.read_bytes() == parse_response(reply.read_bytes())
