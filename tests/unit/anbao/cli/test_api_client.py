"""The CLI's API client: a problem is one line with its exit status, streams included."""

from __future__ import annotations

import click
import httpx
import pytest

from anbao.cli.api import EXIT_REFUSED, EXIT_UNAVAILABLE, ApiClient, ApiRefused, segment


def answering(status: int, body: dict[str, object]) -> ApiClient:
    """A client whose server answers every call with ``status`` and ``body`` (no socket)."""
    api = ApiClient("http://anbao.test", "token")
    api._http = httpx.Client(
        base_url="http://anbao.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)),
    )
    return api


def test_a_query_error_names_its_position_and_code() -> None:
    problem = {"type": "urn:anbao:problem:audit_query_invalid", "detail": "expected )",
               "position": 16}  # fmt: skip
    with answering(400, problem) as api, pytest.raises(ApiRefused) as refused:
        api.call("GET", "/audit/events")
    assert refused.value.exit_code == EXIT_REFUSED
    assert refused.value.message == "expected ) (at position 16) [audit_query_invalid]"


@pytest.mark.parametrize(("status", "code"), [(403, EXIT_REFUSED), (503, EXIT_UNAVAILABLE)])
def test_a_refused_or_failed_stream_exits_with_the_problem(status: int, code: int) -> None:
    problem = {"type": "urn:anbao:problem:audit_search_forbidden", "title": "Forbidden"}
    with (
        answering(status, problem) as api,
        pytest.raises(click.ClickException) as failed,
        api.stream("GET", "/audit/export"),
    ):
        pytest.fail("a refused stream is not read")
    assert failed.value.exit_code == code
    assert "audit_search_forbidden" in str(failed.value)


def test_a_typed_id_stays_one_path_segment() -> None:
    assert segment("../iam/apps") == "..%2Fiam%2Fapps"
    assert segment("a b?c#d") == "a%20b%3Fc%23d"
