"""The Anbao app as bench/audit_search.py serves it: settings from the environment, and a token
verifier that trusts the bench's in-memory issuer (its public JWKS in ``BENCH_JWKS``).

    uvicorn --factory bench.audit_search_app:make_app
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anbao.app import Parts, create_app
from anbao.settings import Settings
from anbao.web.asgi_app import AsgiApp
from iam.tokens.verifier import TokenVerifier


class _StaticJwks:
    def __init__(self, keys: Mapping[str, Any]) -> None:
        self._keys = keys

    def fetch(self) -> Mapping[str, Any]:
        return self._keys


def make_app() -> AsgiApp:
    settings = Settings.load(os.environ)
    jwks = json.loads(Path(os.environ["BENCH_JWKS"]).read_text(encoding="utf-8"))
    verifier = TokenVerifier(
        issuer=os.environ["BENCH_ISSUER"],
        audience="anbao-api",
        jwks=_StaticJwks(jwks),
        clock=time.time,
    )
    return create_app(settings, Parts(verifier=verifier))
