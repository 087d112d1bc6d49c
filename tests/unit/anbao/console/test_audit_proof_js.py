"""The event page's own SM3 and Merkle walk (static/audit-proof.js) against the platform's.

Run with Node when the machine has it (Debian's ``nodejs``), the browser's engine family: the
script's SM3 is checked against GB/T 32905-2016's examples and against ``crypto.sm3`` on random
inputs, and its walk of an inclusion proof against ``audit.integrity.merkle`` on random trees.
The journey checks the same script in Chromium on a real proof.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from audit.integrity import merkle
from crypto import sm3

SCRIPT = Path(__file__).parents[4] / "anbao/console/static/audit-proof.js"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")

_HARNESS = """
global.window = {}; global.document = { addEventListener() {} };
require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const unhex = (h) => Uint8Array.from(h.match(/../g) || [], (b) => parseInt(b, 16));
const out = { digests: cases.digests.map((h) => window.anbaoProof.sm3(unhex(h))), roots: [] };
for (const p of cases.proofs) {
  try { out.roots.push(window.anbaoProof.walk(p.index, p.size, unhex(p.leaf), p.path.map(unhex)).root); }
  catch (e) { out.roots.push(null); }
}
console.log(JSON.stringify(out));
"""


def run(cases: dict[str, object]) -> dict[str, list[str | None]]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", _HARNESS, str(SCRIPT)],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, list[str | None]] = json.loads(done.stdout)
    return result


def test_sm3_matches_the_standard_and_the_platform() -> None:
    rng = random.Random(19)
    messages = [b"abc", b"abcd" * 16, b"", *(rng.randbytes(rng.randrange(300)) for _ in range(40))]
    digests = run({"digests": [m.hex() for m in messages], "proofs": []})["digests"]
    assert digests[0] == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert digests[1] == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert digests == [sm3.digest(m).hex() for m in messages]


def test_the_walk_reaches_the_root_and_refuses_a_wrong_path() -> None:
    rng = random.Random(6962)
    proofs, roots = [], []
    for size in (1, 2, 3, 5, 8, 13, 64, 100):
        leaves = [merkle.SM3.leaf(rng.randbytes(20)) for _ in range(size)]
        for index in {0, size - 1, rng.randrange(size)}:
            path = merkle.inclusion_proof(merkle.SM3, leaves, index)
            proofs.append({
                "index": index, "size": size, "leaf": leaves[index].hex(),
                "path": [p.hex() for p in path],
            })  # fmt: skip
            roots.append(merkle.root(merkle.SM3, leaves).hex())
    bad = dict(proofs[-1], path=proofs[-1]["path"][:-1])  # too short for the tree
    got = run({"digests": [], "proofs": [*proofs, bad]})["roots"]
    assert got[:-1] == roots
    assert got[-1] is None
