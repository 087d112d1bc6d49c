"""Identity responses carried out in Keycloak through its admin REST API (python-keycloak).

Disabling sets ``enabled = false`` on the user (new sign-ins fail at once); ending sessions is
``POST /admin/realms/{realm}/users/{id}/logout``, which removes every user session, so refresh
tokens stop working (access tokens already issued live until they expire: keep them short, and
protect high-risk routes with introspection). The admin client comes from the composition
root (iam's one factory, built lazily); Keycloak errors become domain errors without upstream
text.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Final

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from siem.alerts.errors import ResponseTargetNotFound, ResponseTargetUnavailable

_NOT_FOUND: Final = 404


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except KeycloakError as exc:
        if getattr(exc, "response_code", None) == _NOT_FOUND:
            raise ResponseTargetNotFound("Keycloak has no such user.") from exc
        raise ResponseTargetUnavailable("The Keycloak admin API refused the call.") from exc
    except (OSError, ValueError) as exc:
        raise ResponseTargetUnavailable("The Keycloak admin API is unreachable.") from exc


class KeycloakIdentityResponder:
    """``IdentityResponder`` for one realm."""

    def __init__(self, admin_factory: Callable[[], KeycloakAdmin]) -> None:
        self._factory = admin_factory
        self._admin: KeycloakAdmin | None = None
        self._lock = threading.Lock()

    @property
    def admin(self) -> KeycloakAdmin:
        if self._admin is None:
            self._admin = self._factory()
        return self._admin

    def _user_id(self, username: str) -> str:
        user_id = self.admin.get_user_id(username)
        if not user_id:
            raise ResponseTargetNotFound("Keycloak has no such user.")
        return str(user_id)

    def disable_user(self, username: str) -> None:
        with self._lock, _translated():
            self.admin.update_user(self._user_id(username), {"enabled": False})

    def end_sessions(self, username: str) -> int:
        with self._lock, _translated():
            user_id = self._user_id(username)
            sessions = len(self.admin.get_sessions(user_id))
            self.admin.user_logout(user_id)
            return sessions
