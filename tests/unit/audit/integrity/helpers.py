"""An in-memory AuditStore for the integrity tests: documents kept exactly as given."""

from __future__ import annotations

import copy
import datetime as dt
import json

from audit.model import AuditEvent, Outcome, PersonalData, UserInfo


class MemoryStore:
    kind = "memory"

    def __init__(self) -> None:
        self.docs: dict[str, dict] = {}  # keyed like Elasticsearch's _id

    def ping(self) -> None:
        pass

    def close(self) -> None:
        pass

    def write_batch(self, events):
        for e in events:
            self.docs.setdefault(e.id, e.to_document())

    def get(self, event_id):
        doc = self.docs.get(event_id)
        return copy.deepcopy(doc) if doc is not None else None

    def scan(self, stream, start=0, stop=None, *, batch_size=1000):
        del batch_size
        rows = []
        for doc in self.docs.values():
            seq = doc.get("anbao", {}).get("sequence")
            if doc.get("anbao", {}).get("stream") != stream or not isinstance(seq, int):
                continue
            if seq >= start and (stop is None or seq < stop):
                rows.append((seq, doc))
        rows.sort(key=lambda r: r[0])
        return iter([copy.deepcopy(d) for _, d in rows])

    def streams(self):
        out: dict[str, int] = {}
        for doc in self.docs.values():
            name = doc.get("anbao", {}).get("stream", "")
            out[name] = out.get(name, 0) + 1
        return out

    def refresh(self) -> None:
        pass


def make_events(
    n: int, *, stream: str = "main", start: int = 0, prefix: str = "ev"
) -> list[AuditEvent]:
    base = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    return [
        AuditEvent(
            id=f"{prefix}-{stream}-{i}",
            timestamp=base + dt.timedelta(seconds=i),
            action="seal.use",
            outcome=Outcome.SUCCESS,
            category=("iam",),
            user=UserInfo(id=f"u{i % 7}", name=f"user{i % 7}", roles=("seal-user",)),
            org_path="/gov/finance",
            source_ip="10.0.0.1",
            personal=PersonalData(phone="enc-placeholder") if i % 5 == 0 else PersonalData(),
            stream=stream,
            sequence=i,
        )
        for i in range(start, start + n)
    ]


class RawMemoryStore(MemoryStore):
    """Offers ``scan_raw`` (stored bytes, key order as written), like a store that can."""

    def scan_raw(self, stream, start=0, stop=None, *, batch_size=1000):
        for doc in self.scan(stream, start, stop, batch_size=batch_size):
            raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
            yield doc["anbao"]["sequence"], raw
