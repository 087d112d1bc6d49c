"""The compiled helpers of the request path (``audit/_capture.c``), if they were built.

``pip install`` compiles them (a C compiler and zlib's headers are prerequisites of the
install, ``deploy/local/prereqs.sh``); where they are missing, every caller has a Python path
that gives the same results, slower.
"""

from __future__ import annotations

from types import ModuleType


def _load() -> ModuleType | None:
    try:
        from audit import _capture  # noqa: PLC0415 - optional compiled module
    except ImportError:
        return None
    return _capture


native: ModuleType | None = _load()
