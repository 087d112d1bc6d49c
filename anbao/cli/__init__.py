"""The ``anbao`` command line.

Subcommand groups live in sibling modules (``anbao.cli.crypto`` …). They are imported only when
named: some pull in the whole application (``audit``, ``siem``), and ``anbao crypto sm3`` should
not wait for that. ``anbao --help`` still lists every group.
"""

from __future__ import annotations

import importlib

import click

from anbao import __version__

#: command name -> (module that defines it, attribute, modules that extend it on import)
_COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "serve": ("anbao.cli.serve", "serve", ()),
    "settings": ("anbao.cli.serve", "show_settings", ()),
    "crypto": ("anbao.cli.crypto", "crypto", ()),
    "audit": ("anbao.cli.audit", "audit", ()),
    "iam": ("anbao.cli.iam", "iam", ()),
    "seal": ("anbao.cli.seal", "seal", ("anbao.cli.seal_registry",)),
    "siem": ("anbao.cli.siem", "siem", ()),
    "compliance": ("anbao.cli.compliance", "compliance", ()),
    "dev": ("anbao.cli.dev", "dev", ()),
    "login": ("anbao.cli.login", "login", ()),
    "logout": ("anbao.cli.login", "logout", ()),
    "whoami": ("anbao.cli.login", "whoami", ()),
}

_HELP = {
    "serve": "Run the API server (uvicorn, uvloop, httptools).",
    "settings": "Print the effective settings as JSON, secrets masked.",
    "crypto": "National-standard cryptography (SM2, SM3, SM4, SM2 certificates).",
    "audit": "The audit trail: search, export, verify.",
    "iam": "Identity on Keycloak: realm as code, org tree, apps, events.",
    "seal": "Electronic seals (GB/T 38540): make, sign, verify, registry.",
    "siem": "Detections and alerts: rule lint, alerts, response actions.",
    "compliance": "MLPS 2.0 and GB/T 39786 checks and signed reports.",
    "dev": "Development only: demo data for a local platform (refused in production).",
    "login": "Sign in at Keycloak (device code or browser); acting commands use the session.",
    "logout": "End the session at Keycloak and delete the stored tokens.",
    "whoami": "Who Anbao's API sees in your token.",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute, extensions = entry
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        for extension in extensions:
            importlib.import_module(extension)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Help text without importing every group.
        with formatter.section("Commands"):
            formatter.write_dl([(name, _HELP[name]) for name in sorted(_COMMANDS)])


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="anbao")
def main() -> None:
    """Anbao security and identity assurance platform."""
