"""JSON from untrusted input, read as I-JSON (RFC 7493): the one parser for clients' JSON.

Every JSON value a client sends — request bodies, cursors, JOSE headers and claims — is read
here, because ``json.loads`` alone lets three kinds of hostile input through to code that was
never meant to see them:

* nesting: the C decoder recurses once per level, so ~1000 levels raise ``RecursionError``
  (not a ``ValueError``), and values a little less deep make every later recursive walk
  (serializers, validators) fail instead. RFC 8259 §9 lets a parser bound the depth; the bound
  is checked on the text, before decoding, in C-speed passes;
* unpaired surrogates (``"\\ud800"``): valid JSON text, but no Unicode string, so writing the
  value as UTF-8 — to Keycloak, a database, a response — fails later (RFC 7493 §2.1 forbids
  them);
* ``NaN``/``Infinity``, which are not JSON at all (RFC 8259 §6) but Python accepts.

Duplicate member names (also refused by I-JSON) keep ``json``'s last-wins reading: refusing them
would cost a Python-level hook per object on every request.

The module lives in ``crypto`` because every package may import it (``crypto`` is the base of
the dependency graph) and the JOSE header parser in ``iam.tokens.verifier`` needs it too.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

#: Deeper than any document the API defines (the deepest, a saved search, is 4 levels).
MAX_DEPTH = 32

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
#: ``\uD800``-``\uDFFF`` written as an escape: only then can a decoded string hold a surrogate
#: (strict UTF-8 decoding refuses encoded ones).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class InvalidJson(ValueError):
    """The input is not I-JSON within the bounds; the message is safe to show a client."""


def _refuse_constant(name: str) -> None:
    raise InvalidJson(f"{name} is not a JSON number")


def nesting(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets in strings ignored)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one JSON value of UTF-8 ``data``; :class:`InvalidJson` on anything else.

    Raises only :class:`InvalidJson` (a ``ValueError``), whatever the input.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else str(data)
    except UnicodeDecodeError:
        raise InvalidJson("the text is not UTF-8") from None
    if nesting(text) > max_depth:
        raise InvalidJson(f"arrays and objects nest deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except InvalidJson:
        raise
    except ValueError as exc:  # JSONDecodeError names the position; over-long integers too
        raise InvalidJson(f"not JSON: {exc}") from None
    except RecursionError:  # pragma: no cover - the depth bound is checked first
        raise InvalidJson("arrays and objects nest too deeply") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidJson("a string holds an unpaired UTF-16 surrogate") from None
    return value
