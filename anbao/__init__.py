"""Anbao composition root: settings, the Falcon app factory, the error table and the CLI.

The only package that knows every domain package and wires concrete adapters together.
"""

__version__ = "0.1.0"
