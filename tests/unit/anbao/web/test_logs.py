from __future__ import annotations

import pytest

from anbao.logs import redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig", "eyJhbGciOi"),
        ("Authorization: Basic YWRtaW46cGFzcw==", "YWRtaW46cGFzcw"),
        ("login failed password=hunter2 for admin", "hunter2"),
        ('{"client_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("GET http://anbao:Pa55word@127.0.0.1:9200/", "Pa55word"),
    ],
)
def test_redact_masks_credentials(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "[REDACTED]" in redact(text)


def test_redact_leaves_ordinary_text_alone() -> None:
    assert redact("GET /healthz 200 in 0.3 ms") == "GET /healthz 200 in 0.3 ms"
