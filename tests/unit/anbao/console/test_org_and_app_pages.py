# ruff: noqa: RUF001 - the pages speak Chinese: full-width punctuation is what people read
"""Pure helpers of the org tree and apps pages: form parsing, links and secrets shown once."""

from __future__ import annotations

import dataclasses
from typing import cast

from anbao.console.api import Problem
from anbao.console.pages import once
from anbao.console.pages.apps import registration, words
from anbao.console.pages.orgs.tree import _link, node_url
from anbao.console.sessions import Session
from anbao.console.web import View


def test_list_fields_split_on_lines_spaces_and_commas_chinese_ones_too() -> None:
    assert words(" https://a.example/cb\r\nhttps://b.example/cb ,x；y，z ") == [
        "https://a.example/cb",
        "https://b.example/cb",
        "x",
        "y",
        "z",
    ]
    assert words("   ") == []


def test_registration_body_leaves_the_checks_to_the_api() -> None:
    body = registration(
        {
            "client_id": " permits ",
            "type": "confidential",
            "redirect_uris": "https://p.example/cb",
            "roles": "clerk, approver",
            "name": "",
            "service_account": "on",
        }
    )
    assert body == {
        "client_id": "permits",
        "type": "confidential",
        "redirect_uris": ["https://p.example/cb"],
        "roles": ["clerk", "approver"],
        "service_account": True,
    }
    public = registration({"client_id": "spa", "type": "public", "service_account": "on"})
    assert "service_account" not in public  # a public app has none; the API would refuse it


def test_activation_link_is_built_for_the_browser_not_for_the_in_process_call() -> None:
    shown = _link(
        {
            "username": "li.si",
            "delivery": "link",
            "expires_at": 1,
            "activation_path": "/activate/t",
        },
        "https://anbao.example.gov.cn/",
    )
    assert shown["url"] == "https://anbao.example.gov.cn/activate/t"
    assert "url" not in _link({"username": "li.si", "delivery": "email"}, "https://x")


def test_node_links_quote_what_they_carry() -> None:
    assert node_url("a b/c", done="created") == "/console/orgs?node=a%20b%2Fc&done=created"


class _Store:
    def __init__(self) -> None:
        self.saved: list[Session] = []

    def save(self, session_id: str, session: Session) -> None:
        del session_id
        self.saved.append(session)


@dataclasses.dataclass
class _Console:
    store: _Store


@dataclasses.dataclass
class _View:
    console: _Console
    session: Session
    session_id: str = "sid"


def _session() -> Session:
    return Session("s", "u", "n", (), "1", "a", "r", "i", 0.0, 0.0, "csrf")


def test_a_secret_is_shown_once_then_forgotten() -> None:
    view = _View(_Console(_Store()), _session())
    once.show_once(cast(View, view), "secret", client_id="app", secret="s3")
    assert view.console.store.saved[-1].once == {
        "kind": "secret",
        "client_id": "app",
        "secret": "s3",
    }
    assert once.take_once(cast(View, view), "invitation") is None  # another kind stays
    assert once.take_once(cast(View, view), "secret") == {
        "kind": "secret",
        "client_id": "app",
        "secret": "s3",
    }
    assert view.console.store.saved[-1].once is None
    assert once.take_once(cast(View, view), "secret") is None


def test_status_of_keeps_a_clients_mistake_and_hides_an_upstream_failure() -> None:
    assert once.status_of(Problem(404, "t", "x", "", {})) == "404 Not Found"
    assert once.status_of(Problem(503, "t", "x", "", {})) == "502 Bad Gateway"


@dataclasses.dataclass
class _Roles:
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


def test_the_forms_offer_the_roles_the_api_would_let_this_person_grant() -> None:
    admin = _Roles(frozenset({"platform-admin", "otp-required"}))
    assert "platform-admin" in once.grantable(cast(View, admin))
    org_admin = _Roles(frozenset({"org-admin", "seal-admin", "otp-required", "offline_access"}))
    assert once.grantable(cast(View, org_admin)) == ["org-admin", "seal-admin"]
