"""One reading of Keycloak's admin statuses: a caller's mistake is never an outage."""

from __future__ import annotations

import pytest

from iam.admin import AdminCredentials, Failure, failure


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, Failure.INVALID),
        (405, Failure.INVALID),
        (414, Failure.INVALID),
        (404, Failure.NOT_FOUND),
        (409, Failure.CONFLICT),
        (401, Failure.UNAVAILABLE),  # Keycloak refusing Anbao's own credentials
        (403, Failure.UNAVAILABLE),
        (500, Failure.UNAVAILABLE),
        (503, Failure.UNAVAILABLE),
        (None, Failure.UNAVAILABLE),  # no answer at all
    ],
)
def test_statuses(status: int | None, expected: Failure) -> None:
    assert failure(status) is expected


def test_credentials_never_show_their_secrets() -> None:
    creds = AdminCredentials("http://kc", client_id="anbao-admin", client_secret="s3cret")
    boot = AdminCredentials.bootstrap("http://kc", "admin", "pa55")
    assert creds.service_account
    assert not boot.service_account
    assert boot.configured
    assert "s3cret" not in repr(creds)
    assert "pa55" not in repr(boot)
    assert not AdminCredentials("http://kc").configured
