"""The console's edge without a realm: where people are sent, what every answer carries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import falcon.asgi
import falcon.testing
import pytest

from anbao.console.auth import display_name, safe_next


@pytest.fixture
def console(make_app: Callable[..., falcon.asgi.App], tmp_path: Path) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(
        make_app(ANBAO_DATA_DIR=str(tmp_path), ANBAO_CONSOLE_CLIENT_SECRET="s3cret")
    )


def test_a_page_without_a_session_sends_the_person_to_sign_in_and_keeps_the_page(
    console: falcon.testing.TestClient,
) -> None:
    answer = console.simulate_get("/console/", query_string="panel=health")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2F%3Fpanel%3Dhealth"


def test_sign_in_is_code_with_pkce_s256_for_the_confidential_client_bound_to_this_browser(
    console: falcon.testing.TestClient,
) -> None:
    answer = console.simulate_get("/console/login", query_string="next=/console/alerts&acr=2")
    assert answer.status_code == 303
    url = urlsplit(answer.headers["location"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path.endswith("/realms/anbao/protocol/openid-connect/auth")
    assert params["client_id"] == "anbao-console-web"
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert params["acr_values"] == "2"
    assert params["ui_locales"] == "zh-CN"
    assert params["redirect_uri"].endswith("/console/callback")
    cookie = answer.cookies["anbao-login"]
    assert cookie.value == params["state"]
    assert cookie.http_only
    assert cookie.same_site == "Lax"
    assert "code_verifier" not in answer.headers["location"]


def test_a_callback_without_its_browsers_state_is_refused_and_opens_no_session(
    console: falcon.testing.TestClient,
) -> None:
    login = console.simulate_get("/console/login")
    state = parse_qs(urlsplit(login.headers["location"]).query)["state"][0]
    answer = console.simulate_get("/console/callback", query_string=f"state={state}&code=c")
    assert answer.status_code == 400  # no login cookie: another browser's link
    assert "anbao-console" not in answer.cookies
    again = console.simulate_get(
        "/console/callback",
        query_string=f"state={state}&code=c",
        cookies={"anbao-login": "another-state"},
    )
    assert again.status_code == 400


def test_a_change_without_a_session_is_401_not_a_redirect(
    console: falcon.testing.TestClient,
) -> None:
    answer = console.simulate_post(
        "/console/logout", body="csrf=x", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 401


def test_every_console_answer_carries_a_strict_csp_and_no_store(
    console: falcon.testing.TestClient,
) -> None:
    answer = console.simulate_get("/console/signed-out")
    assert answer.status_code == 200
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in answer.text  # no inline script
    assert ' style="' not in answer.text


def test_static_files_are_hashed_gzipped_and_kept_for_a_year(
    console: falcon.testing.TestClient,
) -> None:
    page = console.simulate_get("/console/signed-out").text
    (href,) = [part.split('"')[1] for part in page.split("href=")[1:] if "console.css" in part]
    answer = console.simulate_get(href, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert "immutable" in answer.headers["cache-control"]
    assert console.simulate_get("/console/static/x/../../settings.py").status_code == 404


def test_the_language_switch_remembers_english_and_returns_to_the_page(
    console: falcon.testing.TestClient,
) -> None:
    answer = console.simulate_get("/console/lang", query_string="to=en&next=/console/signed-out")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/signed-out"
    page = console.simulate_get("/console/signed-out", cookies={"anbao_lang": "en"})
    assert 'lang="en"' in page.text
    assert "You have signed out." in page.text
    assert console.simulate_get("/console/lang", query_string="to=xx").status_code == 400


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/console/",
        "/console\\@evil",
        "/console//evil.example",
        "/consolex",
        "/other",
        "",
        None,
    ],
)
def test_only_console_paths_are_returned_to(target: str | None) -> None:
    assert safe_next(target) == "/console/"


def test_a_console_path_is_returned_to() -> None:
    assert safe_next("/console/audit?q=a") == "/console/audit?q=a"
    assert safe_next("/console?panel=x") == "/console?panel=x"


def test_chinese_names_are_written_family_name_first() -> None:
    assert display_name({"family_name": "赵", "given_name": "析", "name": "析 赵"}, "u") == "赵析"
    assert (
        display_name({"family_name": "Li", "given_name": "Hua", "name": "Hua Li"}, "u") == "Hua Li"
    )
    assert display_name({}, "demo-analyst") == "demo-analyst"
