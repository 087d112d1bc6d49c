"""Where the repository's parts are, for tests at any depth.

Tests mirror the package tree and move with it; counting ``parents[n]`` broke on every move.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
VECTORS = TESTS / "vectors"
