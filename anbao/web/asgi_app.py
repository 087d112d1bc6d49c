"""The Falcon ASGI types Anbao uses, spelled once."""

from __future__ import annotations

from typing import TypeAlias

import falcon.asgi

AsgiApp: TypeAlias = falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]
