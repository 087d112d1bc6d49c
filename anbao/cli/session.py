"""The signed-in person's tokens at the command line (written by ``anbao login``).

Stored as JSON, mode 0600, in ``$XDG_CONFIG_HOME/anbao/credentials.json`` (default
``~/.config/anbao``): the user's own config directory, not the project's, so no token lands in
a repository. :func:`access_token` is what every acting command uses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from anbao.settings import Settings


def credentials_path() -> Path:
    """Where ``anbao login`` keeps the tokens (``ANBAO_CONFIG_DIR`` overrides the directory)."""
    if explicit := os.environ.get("ANBAO_CONFIG_DIR"):
        return Path(explicit) / "credentials.json"
    config = os.environ.get("XDG_CONFIG_HOME") or Path("~/.config").expanduser()
    return Path(config) / "anbao" / "credentials.json"


def stored() -> dict[str, Any] | None:
    """The stored login, or None."""
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def access_token(settings: Settings) -> str | None:
    """The stored access token (``anbao login`` refreshes it)."""
    data = stored()
    token = data.get("access_token") if data else None
    return token if isinstance(token, str) and token else None
