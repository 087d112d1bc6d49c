"""Invitations as values: the one-time activation token, its stored form, and required actions.

A person invited without an e-mail channel gets an activation link ``/activate/{token}``.
The token is ``{person_id}.{secret}``: the id says whose invitation to look at, the secret
(256 random bits, :func:`secrets.token_urlsafe`) proves the link was handed out. Only the
SHA-256 of the secret is kept, with the expiry, in the user attribute ``anbao_invitation``
(declared admin-only in the realm's user profile, so the person can neither read nor edit it);
the secret itself is shown once, to the inviting admin. Comparing digests is constant-time
(:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import re
import string
from collections.abc import Callable, Collection

from iam.invitations.errors import ActivationInvalid

UPDATE_PASSWORD = "UPDATE_PASSWORD"  # noqa: S105 - a Keycloak required action, not a secret
CONFIGURE_TOTP = "CONFIGURE_TOTP"
#: The realm's marker of administrative roles (anbao-realm.yaml: platform-admin, org-admin and
#: seal-admin carry it as a composite): its holders enrol OTP before anything else.
OTP_MARKER_ROLE = "otp-required"
#: How long an activation link or an execute-actions e-mail stays valid.
DEFAULT_LIFESPAN_SECONDS = 72 * 3600
_VERSION = "v1"
_TOKEN = re.compile(r"([A-Za-z0-9-]{1,64})\.([A-Za-z0-9_-]{32,128})")
_DIGEST = re.compile(r"[0-9a-f]{64}")


class Delivery(enum.StrEnum):
    """How the person receives their credentials."""

    EMAIL = "email"  # Keycloak's execute-actions e-mail (the realm has SMTP)
    LINK = "link"  # a one-time activation link, shown once to the inviting admin


@dataclasses.dataclass(frozen=True, slots=True)
class PendingLink:
    """What is stored of an activation link: the secret's SHA-256 and when it expires."""

    digest: str
    expires_at: int  # seconds since the epoch

    def encode(self) -> str:
        return f"{_VERSION} {self.digest} {self.expires_at}"

    @classmethod
    def decode(cls, value: str) -> PendingLink | None:
        """The stored value, or None when it is not one (then no link is pending)."""
        parts = value.split(" ")
        if len(parts) != 3 or parts[0] != _VERSION or not _DIGEST.fullmatch(parts[1]):  # noqa: PLR2004
            return None
        if not parts[2].isdigit():
            return None
        return cls(parts[1], int(parts[2]))

    def matches(self, secret: str) -> bool:
        """The secret is the one handed out (constant-time comparison of the digests)."""
        return hmac.compare_digest(digest(secret), self.digest)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(person_id: str, secret: str) -> str:
    return f"{person_id}.{secret}"


def parse_token(token: str) -> tuple[str, str]:
    """``(person_id, secret)``; a malformed token is simply not a valid one."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise ActivationInvalid("This activation link is not valid.")
    return match.group(1), match.group(2)


def required_actions(roles: Collection[str]) -> list[str]:
    """What Keycloak makes the person do at first sign-in: always a new password; OTP
    enrolment too for administrative roles (GB/T 22239-2019 §8.1.4.1 d, two factors for
    administrators), i.e. holders of the realm's ``otp-required`` marker."""
    actions = [UPDATE_PASSWORD]
    if OTP_MARKER_ROLE in roles:
        actions.append(CONFIGURE_TOTP)
    return actions


_SPECIALS = "!#%+-=?@^_"
_ALPHABET = string.ascii_letters + string.digits + _SPECIALS


def temporary_password(randbelow: Callable[[int], int], length: int = 20) -> str:
    """A random password meeting the realm's policy (upper, lower, digit, special, length):
    one of each class, the rest from all of them, then shuffled (Fisher-Yates);
    ``randbelow`` is :func:`secrets.randbelow` outside tests."""
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _SPECIALS)
    chars = [c[randbelow(len(c))] for c in classes]
    chars += [_ALPHABET[randbelow(len(_ALPHABET))] for _ in range(length - len(chars))]
    for i in range(len(chars) - 1, 0, -1):
        j = randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


@dataclasses.dataclass(frozen=True, slots=True)
class Invitation:
    """The answer to an invitation (or a resend): how credentials went out, and the link,
    present only for :attr:`Delivery.LINK` and shown once."""

    person_id: str
    username: str
    delivery: Delivery
    expires_at: int
    token: str = dataclasses.field(default="", repr=False)

    def as_json(self, link_base: str = "") -> dict[str, object]:
        out: dict[str, object] = {
            "person_id": self.person_id,
            "username": self.username,
            "delivery": str(self.delivery),
            "expires_at": self.expires_at,
        }
        if self.token:
            out["activation_path"] = f"/activate/{self.token}"
            out["activation_url"] = f"{link_base.rstrip('/')}/activate/{self.token}"
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """A person made with a password (bootstrap, demo data): shown once, then forgotten."""

    person_id: str
    username: str
    password: str = dataclasses.field(repr=False)
    temporary: bool
    required_actions: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {
            "person_id": self.person_id,
            "username": self.username,
            "password": self.password,
            "temporary": self.temporary,
            "required_actions": list(self.required_actions),
        }
