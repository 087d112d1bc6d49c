"""Pure rules of the registry: organisation subtrees and what a valid application is."""

from __future__ import annotations

from typing import Final

from crypto.pki import is_valid_uscc
from crypto.seal.errors import SealError
from crypto.seal.picture import make_picture
from crypto.seal_registry.errors import SealApplicationInvalid
from crypto.seal_registry.model import Application

MAX_VALID_DAYS: Final = 3650
MAX_PATH: Final = 512
MAX_NAME: Final = 256
MAX_HOLDERS: Final = 100


def in_subtree(scope: str, org_path: str) -> bool:
    """``org_path`` is ``scope`` or below it (path segments, not string prefixes)."""
    if not scope.startswith("/") or not org_path.startswith("/"):
        return False
    return org_path == scope or org_path.startswith(scope.rstrip("/") + "/")


def check_application(app: Application) -> None:
    """Refuse an incomplete or invalid application, naming the field."""
    if not app.org_path.startswith("/") or len(app.org_path) > MAX_PATH:
        raise SealApplicationInvalid("org_path must be an absolute organisation path")
    if not app.org_name or len(app.org_name) > MAX_NAME:
        raise SealApplicationInvalid("org_name must be 1 to 256 characters")
    if not is_valid_uscc(app.uscc):
        raise SealApplicationInvalid("uscc is not a valid unified social credit code")
    if not app.name or len(app.name) > MAX_NAME:
        raise SealApplicationInvalid("name must be 1 to 256 characters")
    if not app.holders or len(app.holders) > MAX_HOLDERS or not all(app.holders):
        raise SealApplicationInvalid(f"holders must list 1 to {MAX_HOLDERS} usernames")
    if not 1 <= app.valid_days <= MAX_VALID_DAYS:
        raise SealApplicationInvalid(f"valid_days must be 1 to {MAX_VALID_DAYS}")
    try:
        make_picture(app.picture, app.width_mm, app.height_mm, app.picture_type or None)
    except SealError as exc:
        raise SealApplicationInvalid(f"picture: {exc.detail}") from exc
