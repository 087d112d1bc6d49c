"""Transport checks on the platform settings (L3-CES1-03, -25, -27; GB/T 39786 §8.4 d/f)."""

from __future__ import annotations

from urllib.parse import urlsplit

from policies.checks.base import Check, Context, NotApplicable, finding
from policies.model import Finding
from policies.ports import SettingsFacts


def _production(facts: SettingsFacts) -> None:
    if facts.environment != "production":
        raise NotApplicable(
            f"environment = {facts.environment}: TLS is enforced in production settings only"
        )


def tls_required(facts: SettingsFacts, ctx: Context) -> list[Finding]:
    """The API is served over TLS (own certificate or a TLS-terminating proxy) in production."""
    _production(facts)
    ok = facts.tls_cert_configured or facts.behind_tls_proxy
    observed = {"server.tls_cert_file": facts.tls_cert_configured,
                "server.behind_tls_proxy": facts.behind_tls_proxy}  # fmt: skip
    return [finding("server.tls_cert_file | server.behind_tls_proxy", observed, "one set", ok)]


def keycloak_https(facts: SettingsFacts, ctx: Context) -> list[Finding]:
    """Tokens and passwords reach Keycloak over https only in production."""
    _production(facts)
    scheme = urlsplit(facts.keycloak_url).scheme
    return [finding("keycloak.url", facts.keycloak_url, "https://…", scheme == "https")]


CHECKS = (
    Check("transport.tls_required", "settings", "TLS required in production", tls_required),
    Check("transport.keycloak_https", "settings", "Keycloak over https", keycloak_https),
)
