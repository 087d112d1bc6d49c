"""Pure rules of the registry: what a valid application is and whether it names its node.

Scoping itself is not decided here: the caller's live org scope (``Actor.scope``, from the
identity authority) says whether a node lies in its reach, by node id.
"""

from __future__ import annotations

from typing import Final

from crypto.pki import is_valid_uscc
from crypto.seals.format.errors import SealError
from crypto.seals.format.picture import make_picture
from crypto.seals.registry.errors import SealApplicationInvalid
from crypto.seals.registry.model import Application, OrgUnit

MAX_VALID_DAYS: Final = 3650
MAX_PATH: Final = 512
MAX_NAME: Final = 256
MAX_HOLDERS: Final = 100
_DIVISION_CODE: Final = 6
_USCC_DIVISION: Final = slice(2, 8)
_DEPARTMENT: Final = "department"


def _canonical(path: str) -> bool:
    """Absolute, no empty, ``.`` or ``..`` segment (``/a/b/../c`` is no path of the tree)."""
    return path.startswith("/") and all(s not in {"", ".", ".."} for s in path[1:].split("/"))


def in_subtree(scope: str, org_path: str) -> bool:
    """``org_path`` is ``scope`` or below it (path segments, not string prefixes).

    Only a first filter over stored snapshots; the decision is ``Actor.scope`` by node id.
    """
    if not _canonical(scope.rstrip("/") or "/") or not _canonical(org_path):
        return False
    return org_path == scope or org_path.startswith(scope.rstrip("/") + "/")


def node_ref(app: Application) -> str:
    """What the body names the organisation by: a node id or code, else the path's last code."""
    if app.org_node_id:
        return app.org_node_id
    if not _canonical(app.org_path) or len(app.org_path) > MAX_PATH:
        raise SealApplicationInvalid("org_node or an absolute org_path naming an org node")
    return app.org_path.rsplit("/", 1)[1]


def check_identity(app: Application, unit: OrgUnit) -> None:
    """``org_name`` and USCC (and the path, if given) are those of the named, in-scope node.

    USCC: a department's code is its credit code; a division's organ is registered by the
    division itself, so characters 3-8 (GB 32100-2015 §4: registering authority's division
    code) are the division's six-digit code. A path, when given, is the node's live path.
    """
    if app.org_path and app.org_path != unit.path:
        raise SealApplicationInvalid("org_path is not the path of the named org node")
    if app.org_name != unit.name:
        raise SealApplicationInvalid("org_name is not the name of the org node")
    if unit.kind == _DEPARTMENT:
        matches = app.uscc == unit.code
    else:
        matches = app.uscc[_USCC_DIVISION] == unit.code[:_DIVISION_CODE]
    if not matches:
        raise SealApplicationInvalid("uscc is not the credit code of the org node")


def check_application(app: Application) -> None:
    """Refuse an incomplete or invalid application, naming the field."""
    if not _canonical(app.org_path) or len(app.org_path) > MAX_PATH:
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
