"""Errors reach HTTP through one handler per class, resolved by Falcon along the MRO."""

from __future__ import annotations

import falcon.asgi
import falcon.testing
import pytest

from anbao.web import errors
from anbao.web.asgi_app import AsgiApp
from iam.errors import IamError, Unauthenticated
from siem.alerts.errors import AlertNotFound


class _Raise:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        raise self.exc


def _answer(exc: Exception) -> falcon.testing.Result:
    app: AsgiApp = falcon.asgi.App()
    errors.install(app)
    app.add_route("/x", _Raise(exc))
    return falcon.testing.TestClient(app).simulate_get("/x")


def test_each_error_class_has_its_own_handler() -> None:
    app: AsgiApp = falcon.asgi.App()
    errors.install(app)
    for cls in errors.PROBLEMS:
        assert cls in app._error_handlers  # what add_error_handler registered


@pytest.mark.parametrize(("cls", "problem"), list(errors.PROBLEMS.items()))
def test_every_error_class_keeps_its_status_and_type(
    cls: type[Exception], problem: errors.Problem
) -> None:
    exc = cls.__new__(cls)
    Exception.__init__(exc, "detail")
    result = _answer(exc)
    assert result.status_code == problem.status
    assert result.headers["content-type"] == errors.PROBLEM_JSON
    assert result.json["type"] == errors.problem_type(str(getattr(exc, "code", "error")))


def test_the_nearest_class_in_the_mro_wins_not_a_table_order() -> None:
    """``IamError`` (400) is listed before ``AlertNotFound`` (404): a class deriving from both,
    ``AlertNotFound`` first, answers 404 as its MRO says (a first-match table said 400)."""

    class _Both(AlertNotFound, IamError):
        pass

    result = _answer(_Both("gone"))
    assert result.status_code == 404
    assert result.json["type"] == errors.problem_type(AlertNotFound.code)


def test_an_unlisted_subclass_answers_as_its_base_with_its_headers() -> None:
    class _Expired(Unauthenticated):
        code = "token_expired_for_test"

    result = _answer(_Expired("expired"))
    assert result.status_code == 401
    assert "www-authenticate" in result.headers
    assert result.json["type"] == errors.problem_type("token_expired_for_test")


def test_an_unexpected_error_is_an_opaque_500() -> None:
    result = _answer(RuntimeError("secret detail"))
    assert result.status_code == 500
    assert result.json["type"] == errors.problem_type("internal_error")
    assert "secret detail" not in result.text
