"""RFC 6962 Merkle trees: the published SHA-256 vectors, then SM3 cross-checked with gmssl.

The structure is checked first with SHA-256 against the certificate-transparency vectors
(tests/vectors/rfc6962_sha256.json, provenance in tests/vectors/README.md); the same code is
then run with SM3 and compared with a naive recursive ``MTH`` written from RFC 6962 §2.1 over
gmssl's independent pure-Python SM3.
"""

from __future__ import annotations

import json

import pytest
from gmssl import func as gm_func
from gmssl import sm3 as gm_sm3
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.integrity import merkle
from audit.integrity.merkle import SHA256, SM3, ProofError
from tests.paths import TESTS

VECTORS = json.loads((TESTS / "vectors" / "rfc6962_sha256.json").read_text("utf-8"))
LEAVES = [bytes.fromhex(x) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots_by_size"]]
H = bytes.fromhex


def _gm_sm3(data: bytes) -> bytes:
    return bytes.fromhex(gm_sm3.sm3_hash(gm_func.bytes_to_list(data)))


def _naive_mth(digest, leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 ``MTH`` exactly as written, over raw leaf data."""
    n = len(leaves)
    if n == 0:
        return digest(b"")
    if n == 1:
        return digest(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return digest(b"\x01" + _naive_mth(digest, leaves[:k]) + _naive_mth(digest, leaves[k:]))


# --- SHA-256: the published vectors ------------------------------------------------------


def test_sha256_leaf_hashes_and_roots_match_vectors():
    leaf_hashes = [SHA256.leaf(d) for d in LEAVES]
    assert [h.hex() for h in leaf_hashes] == VECTORS["leaf_hashes"]
    for size, expected in enumerate(ROOTS):
        assert merkle.root(SHA256, leaf_hashes[:size]) == expected
    assert merkle.root(SHA256, []) == H(VECTORS["empty_root"])


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-{c['size']}")
def test_sha256_inclusion_vectors(case):
    leaf_hashes = [SHA256.leaf(d) for d in LEAVES[: case["size"]]]
    path = merkle.inclusion_proof(SHA256, leaf_hashes, case["index"])
    assert [p.hex() for p in path] == case["path"]
    merkle.verify_inclusion(
        SHA256,
        index=case["index"],
        size=case["size"],
        leaf_hash=leaf_hashes[case["index"]],
        path=path,
        root_hash=ROOTS[case["size"]],
    )


@pytest.mark.parametrize(
    "case", VECTORS["consistency"], ids=lambda c: f"{c['first']}-{c['second']}"
)
def test_sha256_consistency_vectors(case):
    leaf_hashes = [SHA256.leaf(d) for d in LEAVES[: case["second"]]]
    proof = merkle.consistency_proof(SHA256, leaf_hashes, case["first"])
    assert [p.hex() for p in proof] == case["proof"]
    merkle.verify_consistency(
        SHA256,
        first=case["first"],
        second=case["second"],
        first_root=ROOTS[case["first"]],
        second_root=ROOTS[case["second"]],
        proof=proof,
    )


def _inclusion_probes(index, size, path, root, leaf):
    """Corruptions that must all fail (after transparency-dev/merkle's verify_test.go)."""
    some = H("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (index - 1, size, leaf, path, root),
        (index + 1, size, leaf, path, root),
        (index ^ 2, size, leaf, path, root),
        (index, size * 2, leaf, path, root),
        (index, size // 2, leaf, path, root),
        (index, size, b"WrongLeaf", path, root),
        (index, size, leaf, path, H(VECTORS["empty_root"])),
        (index, size, leaf, path, some),
        (index, size, leaf, [*path, b""], root),
        (index, size, leaf, [*path, root], root),
        (index, size, leaf, [b"", *path], root),
        (index, size, leaf, [root, *path], root),
    ]
    for i in range(len(path)):
        bad = list(path)
        bad[i] = bytes([bad[i][0] ^ 8]) + bad[i][1:]
        probes.append((index, size, leaf, bad, root))
    if path:
        probes.append((index, size, leaf, path[:-1], root))
    if len(path) > 1:
        probes.append((index, size, leaf, [some, path[0], *path[1:]], root))
    return probes


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}-{c['size']}")
def test_sha256_corrupted_inclusion_proofs_fail(case):
    index, size = case["index"], case["size"]
    path = [H(p) for p in case["path"]]
    leaf = SHA256.leaf(LEAVES[index])
    for probe in _inclusion_probes(index, size, path, ROOTS[size], leaf):
        i, n, lh, p, r = probe
        with pytest.raises(ProofError):
            merkle.verify_inclusion(SHA256, index=i, size=n, leaf_hash=lh, path=p, root_hash=r)


@pytest.mark.parametrize(
    "case",
    [c for c in VECTORS["consistency"] if c["proof"]],
    ids=lambda c: f"{c['first']}-{c['second']}",
)
def test_sha256_corrupted_consistency_proofs_fail(case):
    m, n = case["first"], case["second"]
    proof = [H(p) for p in case["proof"]]
    r1, r2 = ROOTS[m], ROOTS[n]
    probes = [
        (m - 1, n, r1, r2, proof),
        (m + 1, n, r1, r2, proof),
        (m ^ 2, n, r1, r2, proof),
        (m, n * 2, r1, r2, proof),
        (m, n // 2, r1, r2, proof),
        (m, n, b"WrongRoot", r2, proof),
        (m, n, r1, b"WrongRoot", proof),
        (m, n, r2, r1, proof),
        (m, n, r1, r2, []),
        (m, n, r1, r2, [*proof, b""]),
        (m, n, r1, r2, [*proof, r1]),
        (m, n, r1, r2, [*proof, r2]),
        (m, n, r1, r2, [b"", *proof]),
        (m, n, r1, r2, [r1, *proof]),
        (m, n, r1, r2, [r2, *proof]),
        (m, n, r1, r2, [proof[0], *proof]),
        (m, n, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
        probes.append((m, n, r1, r2, bad))
    for first, second, a, b, p in probes:
        with pytest.raises(ProofError):
            merkle.verify_consistency(
                SHA256, first=first, second=second, first_root=a, second_root=b, proof=p
            )


def test_degenerate_consistency_cases():
    r = ROOTS[3]
    merkle.verify_consistency(SHA256, first=0, second=5, first_root=b"x", second_root=r, proof=[])
    merkle.verify_consistency(SHA256, first=3, second=3, first_root=r, second_root=r, proof=[])
    with pytest.raises(ProofError):
        merkle.verify_consistency(
            SHA256, first=3, second=3, first_root=r, second_root=ROOTS[4], proof=[]
        )
    with pytest.raises(ProofError):
        merkle.verify_consistency(SHA256, first=4, second=3, first_root=r, second_root=r, proof=[])
    with pytest.raises(ProofError):
        merkle.verify_consistency(SHA256, first=0, second=1, first_root=r, second_root=r, proof=[r])


def test_out_of_range_inclusion_is_refused():
    leaf_hashes = [SHA256.leaf(d) for d in LEAVES]
    with pytest.raises(ProofError):
        merkle.inclusion_proof(SHA256, leaf_hashes, 8)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(
            SHA256, index=0, size=0, leaf_hash=leaf_hashes[0], path=[], root_hash=b""
        )


# --- SM3: property tests, gmssl as the hash oracle ------------------------------------------

leaf_data = st.lists(st.binary(max_size=40), min_size=1, max_size=70)


@settings(max_examples=60)
@given(leaf_data)
def test_sm3_root_matches_naive_mth_over_gmssl(leaves):
    ours = merkle.root(SM3, [SM3.leaf(d) for d in leaves])
    assert ours == _naive_mth(_gm_sm3, leaves)
    assert SM3.leaf(leaves[0]) == _gm_sm3(b"\x00" + leaves[0])


@pytest.mark.parametrize("hasher", [SHA256, SM3], ids=["sha256", "sm3"])
@settings(max_examples=40)
@given(size=st.integers(min_value=1, max_value=70), salt=st.binary(max_size=8))
def test_every_index_proves_inclusion(hasher, size, salt):
    leaf_hashes = [hasher.leaf(salt + i.to_bytes(4, "big")) for i in range(size)]
    root = merkle.root(hasher, leaf_hashes)
    for index in range(size):
        path = merkle.inclusion_proof(hasher, leaf_hashes, index)
        merkle.verify_inclusion(
            hasher, index=index, size=size, leaf_hash=leaf_hashes[index], path=path, root_hash=root
        )
        if index + 1 < size:
            with pytest.raises(ProofError):
                merkle.verify_inclusion(
                    hasher,
                    index=index + 1,
                    size=size,
                    leaf_hash=leaf_hashes[index],
                    path=path,
                    root_hash=root,
                )


@pytest.mark.parametrize("hasher", [SHA256, SM3], ids=["sha256", "sm3"])
@settings(max_examples=25)
@given(size=st.integers(min_value=1, max_value=40), salt=st.binary(max_size=8))
def test_every_pair_of_sizes_is_consistent(hasher, size, salt):
    leaf_hashes = [hasher.leaf(salt + i.to_bytes(4, "big")) for i in range(size)]
    roots = [merkle.root(hasher, leaf_hashes[:n]) for n in range(size + 1)]
    for second in range(size + 1):
        prefix = leaf_hashes[:second]
        for first in range(second + 1):
            proof = merkle.consistency_proof(hasher, prefix, first)
            merkle.verify_consistency(
                hasher,
                first=first,
                second=second,
                first_root=roots[first],
                second_root=roots[second],
                proof=proof,
            )
            if proof:
                bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                with pytest.raises(ProofError):
                    merkle.verify_consistency(
                        hasher,
                        first=first,
                        second=second,
                        first_root=roots[first],
                        second_root=roots[second],
                        proof=bad,
                    )


@settings(max_examples=30)
@given(size=st.integers(min_value=1, max_value=300), chunk=st.sampled_from([1, 2, 8, 32]))
def test_subtree_cache_gives_the_same_proofs(size, chunk):
    leaf_hashes = [SM3.leaf(i.to_bytes(4, "big")) for i in range(size)]
    reads = []

    def read(lo, hi):
        reads.append((lo, hi))
        return leaf_hashes[lo:hi]

    cache = merkle.SubtreeCache(SM3, read, chunk=chunk)
    for index in {0, size // 2, size - 1}:
        assert merkle.inclusion_path(cache, size, index) == merkle.inclusion_proof(
            SM3, leaf_hashes, index
        )
    for first in {0, 1, size // 3, size}:
        assert merkle.consistency_path(cache, first, size) == merkle.consistency_proof(
            SM3, leaf_hashes, first
        )
    assert cache(0, size) == merkle.root(SM3, leaf_hashes)


def test_compact_tree_root_at_every_size():
    tree = merkle.CompactTree(SHA256)
    assert tree.root() == ROOTS[0]
    for size, data in enumerate(LEAVES, start=1):
        tree.append(SHA256.leaf(data))
        assert tree.root() == ROOTS[size]
