"""The console's own files (CSS, scripts, vendored htmx and ECharts), served by Anbao itself.

An offline government network has no CDN: every byte the console needs comes from this origin.
Files are read once at start-up, gzip-compressed once, and served under a URL carrying their
content hash (``/console/static/<hash>/<name>``), so browsers may keep them for a year
(``immutable``) and a new release is a new URL. Names are looked up in the table built at
start-up, so a request can never name a path outside the folder.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import mimetypes
from pathlib import Path

import falcon
import falcon.asgi

STATIC = Path(__file__).with_name("static")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclasses.dataclass(frozen=True, slots=True)
class _File:
    digest: str
    content_type: str
    body: bytes
    gzipped: bytes


class Assets:
    """Every file under ``static/``, by name (``vendor/htmx.min.js``), with its hashed URL."""

    auth_required = False

    def __init__(self, folder: Path = STATIC, prefix: str = "/console/static") -> None:
        self._prefix = prefix
        self._files: dict[str, _File] = {}
        # The vendored files' manifest (versions, hashes) is for the tests, not for visitors.
        files = (p for p in folder.rglob("*") if p.is_file() and p.name != "MANIFEST.json")
        for path in sorted(files):
            name = path.relative_to(folder).as_posix()
            body = path.read_bytes()
            kind = (
                _TYPES.get(path.suffix)
                or mimetypes.guess_type(name)[0]
                or "application/octet-stream"
            )
            self._files[name] = _File(
                hashlib.sha256(body).hexdigest()[:16], kind, body, gzip.compress(body, 9, mtime=0)
            )

    def url(self, name: str) -> str:
        """The hashed URL of ``name``; a template naming a missing file fails at render."""
        return f"{self._prefix}/{self._files[name].digest}/{name}"

    async def on_get(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, digest: str, name: str
    ) -> None:
        found = self._files.get(name)
        if found is None:
            raise falcon.HTTPNotFound()
        resp.content_type = found.content_type
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Vary", "Accept-Encoding")
        if digest == found.digest:
            resp.cache_control = ["public", "max-age=31536000", "immutable"]
        else:  # an old page asking for an old version: serve the current one, briefly
            resp.cache_control = ["no-cache"]
        if "gzip" in (req.get_header("Accept-Encoding") or ""):
            resp.set_header("Content-Encoding", "gzip")
            resp.data = found.gzipped
        else:
            resp.data = found.body
