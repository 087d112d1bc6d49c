"""Development demo data (``anbao dev seed``): org tree, people, app, keys and samples."""

from anbao.demo.data import APP, NODES, OTP_KEY, PASSWORD, PEOPLE
from anbao.demo.seed import DemoFiles, DemoRefused, SeedReport, demo_files, refuse_production, seed

__all__ = [
    "APP",
    "NODES",
    "OTP_KEY",
    "PASSWORD",
    "PEOPLE",
    "DemoFiles",
    "DemoRefused",
    "SeedReport",
    "demo_files",
    "refuse_production",
    "seed",
]
