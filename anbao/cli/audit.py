"""``anbao audit``: the audit trail's commands, one sibling module per feature, attached here."""

from __future__ import annotations

import click

from anbao.cli import audit_integrity, audit_search


@click.group("audit")
def audit() -> None:
    """Audit trail: verify integrity, export heads, search and export events."""


for _command in (*audit_integrity.COMMANDS, *audit_search.COMMANDS):
    audit.add_command(_command)
