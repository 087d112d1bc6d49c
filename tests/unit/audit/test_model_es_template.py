"""The Elasticsearch template (data in deploy/) maps exactly the fields of the event model."""

from __future__ import annotations

import json
from typing import Any

from audit.model import FIELDS, FieldType
from audit.stores.elasticsearch import TEMPLATES


def _leaves(props: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in props.items():
        dotted = prefix + name
        if "properties" in spec:
            out.update(_leaves(spec["properties"], dotted + "."))
        else:
            out[dotted] = spec
    return out


def test_template_fields_match_the_model() -> None:
    template = json.loads((TEMPLATES / "audit-events.template.json").read_text())
    leaves = _leaves(template["template"]["mappings"]["properties"])
    assert set(leaves) == set(FIELDS)
    for name, spec in FIELDS.items():
        mapped = leaves[name]
        if name == "labels":
            assert mapped["type"] == "object"
        elif spec.sensitive:
            assert mapped == {"type": "keyword", "index": False, "doc_values": False}
        elif spec.type is FieldType.TEXT:
            assert mapped["type"] == "text"
        else:
            assert mapped["type"] == spec.type.value, name
    assert template["template"]["mappings"]["dynamic"] == "strict"


def test_retention_policy_template_is_valid_json() -> None:
    policy = json.loads((TEMPLATES / "audit-retention.ilm.json").read_text())
    assert policy["policy"]["phases"]["delete"]["actions"] == {"delete": {}}
