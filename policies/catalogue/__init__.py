"""The control catalogue: MLPS 2.0 (GB/T 22239-2019) and GB/T 39786 controls as YAML data.

A room of its own because controls are data, loaded and validated into typed objects
(:class:`policies.model.Catalogue`) with findings that name the file and line; the checks that
evaluate them are code and live in ``policies.checks``.
"""

from policies.catalogue.load import BUILTIN, load_catalogue

__all__ = ["BUILTIN", "load_catalogue"]
