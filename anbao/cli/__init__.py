"""The ``anbao`` command line.

Subcommand groups live in sibling modules (``anbao.cli.crypto`` …) and are attached here, so
``anbao --help`` lists everything while each group stays a short module.
"""

from __future__ import annotations

import click

from anbao import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="anbao")
def main() -> None:
    """Anbao security and identity assurance platform."""


def _attach_groups() -> None:
    from anbao.cli import audit as audit_cli  # noqa: PLC0415 - attached once, at import
    from anbao.cli import compliance as compliance_cli  # noqa: PLC0415
    from anbao.cli import crypto as crypto_cli  # noqa: PLC0415
    from anbao.cli import iam as iam_cli  # noqa: PLC0415
    from anbao.cli import seal as seal_cli  # noqa: PLC0415
    from anbao.cli import seal_registry  # noqa: F401, PLC0415 - adds db/ca/keys/registry to seal
    from anbao.cli import serve as serve_cli  # noqa: PLC0415
    from anbao.cli import siem as siem_cli  # noqa: PLC0415

    main.add_command(serve_cli.serve)
    main.add_command(serve_cli.show_settings)
    main.add_command(crypto_cli.crypto)
    main.add_command(audit_cli.audit)
    main.add_command(iam_cli.iam)
    main.add_command(seal_cli.seal)
    main.add_command(siem_cli.siem)
    main.add_command(compliance_cli.compliance)


_attach_groups()
