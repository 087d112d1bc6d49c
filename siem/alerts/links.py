"""Links from an alert back to the audit events that raised it.

The query is built as an AST and rendered by :func:`audit.search.query.text.to_text` (values escaped
once, there), then offered both as query text for ``anbao audit search`` and as a ready URL on
``GET /audit/events``, bounded to the alert's event time span (plus a minute either side).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from audit.search.query.ast import Or
from audit.search.query.parse import Term
from audit.search.query.text import to_text
from siem.alerts.codec import format_time
from siem.alerts.model import Alert

_MARGIN = dt.timedelta(minutes=1)


def audit_links(alert: Alert, base_url: str = "") -> dict[str, Any]:
    """``event_ids`` (the kept ones), whether the list is complete, a query and a search URL."""
    terms = tuple(Term("event.id", i) for i in alert.event_ids)
    query = to_text(terms[0] if len(terms) == 1 else Or(terms)) if terms else ""
    params = {
        "q": query,
        "from": format_time(alert.first_event_time - _MARGIN),
        "to": format_time(alert.last_event_time + _MARGIN),
        "size": str(max(len(terms), 1)),
    }
    return {
        "event_ids": list(alert.event_ids),
        "event_ids_complete": len(alert.event_ids) == alert.event_count,
        "event_count": alert.event_count,
        "audit_query": query,
        "audit_search_url": f"{base_url.rstrip('/')}/audit/events?{urlencode(params)}",
        "self": f"{base_url.rstrip('/')}/siem/alerts/{alert.id}",
    }
