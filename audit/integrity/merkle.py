"""Append-only Merkle trees with the RFC 6962 structure, hashed with SM3 (or any hash).

Structure (RFC 6962 §2.1, unchanged in RFC 9162 §2.1.1): ``MTH({}) = HASH()``, a leaf is
``HASH(0x00 || d)`` and an interior node ``HASH(0x01 || left || right)``; a tree of ``n > 1``
leaves splits at ``k``, the largest power of two below ``n``. The 0x00/0x01 prefixes are the
domain separation that keeps a leaf from being passed off as a node (second preimages).

Proof generation follows the recursive definitions of RFC 6962 §2.1.1 (``PATH``) and §2.1.2
(``PROOF``/``SUBPROOF``); verification follows the iterative algorithms of RFC 9162 §2.1.3.2
(inclusion) and §2.1.4.2 (consistency), which need only the proof, the sizes and the roots.

Everything works on *leaf hashes*: the audit trail keeps those next to its signed tree heads,
never the events themselves. Verification functions raise :class:`ProofError` rather than
returning a bool (house rule: a failed check cannot be ignored by accident).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from audit.errors import AuditError
from crypto import sm3

LEAF_PREFIX: Final = b"\x00"
NODE_PREFIX: Final = b"\x01"


class ProofError(AuditError):
    """A Merkle proof, size or root does not check out."""

    code = "audit_proof_invalid"
    title = "Merkle proof does not verify"


class Hasher:
    """The tree hash ``HASH`` with RFC 6962's leaf/node domain separation."""

    def __init__(self, name: str, digest: Callable[[bytes], bytes], size: int) -> None:
        self.name = name
        self.digest = digest
        self.size = size

    def empty(self) -> bytes:
        """``MTH({}) = HASH()``: the root of the empty tree (RFC 6962 §2.1)."""
        return self.digest(b"")

    def leaf(self, data: bytes) -> bytes:
        """``HASH(0x00 || d)``."""
        return self.digest(LEAF_PREFIX + data)

    def node(self, left: bytes, right: bytes) -> bytes:
        """``HASH(0x01 || left || right)``."""
        return self.digest(NODE_PREFIX + left + right)


def _sm3_digest() -> Callable[[bytes], bytes]:
    """SM3 through hashlib when its OpenSSL has it, else :func:`crypto.sm3.digest`.

    Both are OpenSSL's SM3; hashlib's one-shot call costs a fifth of building a pyca ``Hash``
    object, and a Merkle verify of a million events makes two million calls. The unit tests
    check both against gmssl's independent SM3.
    """
    try:
        prototype = hashlib.new("sm3")
    except ValueError:
        return sm3.digest
    copy = prototype.copy  # copying a fresh context skips OpenSSL 3's per-call digest fetch

    def digest(data: bytes) -> bytes:
        h = copy()
        h.update(data)
        return h.digest()

    return digest


#: The audit trail's hasher: SM3 (GB/T 32905-2016).
SM3: Final = Hasher("sm3", _sm3_digest(), sm3.DIGEST_SIZE)
#: RFC 6962's own hasher; used to check this module against the published vectors.
SHA256: Final = Hasher("sha256", lambda data: hashlib.sha256(data).digest(), 32)


def split_point(n: int) -> int:
    """``k``: the largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(hasher: Hasher, leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` from the leaf hashes, computed bottom-up in O(n) with O(log n) memory."""
    builder = CompactTree(hasher)
    for leaf_hash in leaf_hashes:
        builder.append(leaf_hash)
    return builder.root()


def subtree_root(hasher: Hasher, leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` (used for the proof components)."""
    return root(hasher, leaf_hashes[start:end])


#: ``node(lo, hi)`` returns ``MTH(D[lo:hi])``; lets callers plug in a cached or paged source.
NodeSource = Callable[[int, int], bytes]


def inclusion_proof(hasher: Hasher, leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """``PATH(m, D[n])`` (RFC 6962 §2.1.1) for leaf ``index`` of the tree over ``leaf_hashes``."""
    return inclusion_path(
        lambda lo, hi: subtree_root(hasher, leaf_hashes, lo, hi), len(leaf_hashes), index
    )


def inclusion_path(node: NodeSource, size: int, index: int) -> list[bytes]:
    """``PATH(index, D[size])`` with subtree roots from ``node``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    return _path(node, index, 0, size)


def _path(node: NodeSource, m: int, lo: int, hi: int) -> list[bytes]:
    n = hi - lo
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*_path(node, m, lo, lo + k), node(lo + k, hi)]
    return [*_path(node, m - k, lo + k, hi), node(lo, lo + k)]


def consistency_proof(hasher: Hasher, leaf_hashes: Sequence[bytes], first: int) -> list[bytes]:
    """``PROOF(m, D[n])`` (RFC 6962 §2.1.2): tree ``first`` is a prefix of the tree over all."""
    return consistency_path(
        lambda lo, hi: subtree_root(hasher, leaf_hashes, lo, hi), first, len(leaf_hashes)
    )


def consistency_path(node: NodeSource, first: int, second: int) -> list[bytes]:
    """``PROOF(first, D[second])`` with subtree roots from ``node``."""
    if not 0 <= first <= second:
        raise ProofError(f"size {first} is outside a tree of size {second}")
    if first in (0, second):
        return []
    return _subproof(node, first, 0, second, complete=True)


def _subproof(node: NodeSource, m: int, lo: int, hi: int, *, complete: bool) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if complete else [node(lo, hi)]
    k = split_point(n)
    if m <= k:
        return [*_subproof(node, m, lo, lo + k, complete=complete), node(lo + k, hi)]
    return [*_subproof(node, m - k, lo + k, hi, complete=False), node(lo, lo + k)]


class SubtreeCache:
    """``MTH(D[lo:hi])`` over paged leaf hashes, caching perfect subtrees of ``>= chunk`` leaves.

    In an append-only tree a perfect (power-of-two, aligned) subtree never changes, so its
    root can be kept forever; any other range splits into perfect subtrees (RFC 6962 §2.1).
    After the first proof, each further proof costs O(log n) lookups plus one chunk of leaves.
    """

    def __init__(
        self, hasher: Hasher, read: Callable[[int, int], Sequence[bytes]], chunk: int = 1024
    ) -> None:
        if chunk & (chunk - 1):
            raise ValueError("chunk must be a power of two")
        self.hasher = hasher
        self._read = read
        self._chunk = chunk
        self._perfect: dict[tuple[int, int], bytes] = {}

    def __call__(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n <= 0:
            return self.hasher.empty()
        if n & (n - 1) == 0 and lo % n == 0:
            return self._perfect_root(lo, n)
        if n <= self._chunk:
            return root(self.hasher, self._read(lo, hi))
        k = split_point(n)
        return self.hasher.node(self(lo, lo + k), self(lo + k, hi))

    def _perfect_root(self, lo: int, n: int) -> bytes:
        if n < self._chunk:
            return root(self.hasher, self._read(lo, lo + n))
        key = (lo, n)
        cached = self._perfect.get(key)
        if cached is None:
            if n == self._chunk:
                cached = root(self.hasher, self._read(lo, lo + n))
            else:
                half = n // 2
                cached = self.hasher.node(
                    self._perfect_root(lo, half), self._perfect_root(lo + half, half)
                )
            self._perfect[key] = cached
        return cached


def root_from_inclusion_proof(
    hasher: Hasher, index: int, size: int, leaf_hash: bytes, path: Sequence[bytes]
) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-3)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_sizes(hasher, [leaf_hash, *path])
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = hasher.node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = hasher.node(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(
    hasher: Hasher,
    *,
    index: int,
    size: int,
    leaf_hash: bytes,
    path: Sequence[bytes],
    root_hash: bytes,
) -> None:
    """Raise :class:`ProofError` unless ``path`` proves leaf ``index`` in the tree ``root_hash``."""
    if root_from_inclusion_proof(hasher, index, size, leaf_hash, path) != root_hash:
        raise ProofError("inclusion proof does not lead to the signed root")


def verify_consistency(
    hasher: Hasher,
    *,
    first: int,
    second: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
) -> None:
    """Raise :class:`ProofError` unless tree ``first`` is a prefix of tree ``second``.

    RFC 9162 §2.1.4.2; the degenerate cases (``first == second``: equal roots, empty proof;
    ``first == 0``: empty proof) are the ones RFC 9162 §2.1.4.1 leaves to the caller.
    """
    if _trivially_consistent(first, second, first_root, second_root, proof):
        return
    _check_sizes(hasher, proof)
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = hasher.node(c, fr), hasher.node(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = hasher.node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise ProofError("consistency proof does not match the two roots")


def _trivially_consistent(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Handle sizes that need no hashing; True when done, raise when wrong."""
    if not 0 <= first <= second:
        raise ProofError(f"sizes {first} and {second} cannot be consistent")
    if first == second:
        if proof or first_root != second_root:
            raise ProofError("equal sizes need equal roots and an empty proof")
        return True
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return True
    if not proof:
        raise ProofError("consistency proof is empty")
    return False


def _check_sizes(hasher: Hasher, hashes: Iterable[bytes]) -> None:
    if any(len(h) != hasher.size for h in hashes):
        raise ProofError(f"every hash must be {hasher.size} bytes")


class CompactTree:
    """A streaming tree: append leaf hashes, read the root at any size in O(log n).

    Keeps one hash per set bit of the size (the perfect subtrees the size decomposes into,
    largest first); the root folds them right to left, which is ``MTH`` because RFC 6962's
    split point ``k`` is always the size of the leftmost perfect subtree.
    """

    def __init__(self, hasher: Hasher) -> None:
        self.hasher = hasher
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf_hash: bytes) -> None:
        """Add the next leaf hash (already ``HASH(0x00 || d)``)."""
        node, size = leaf_hash, self.size
        while size & 1:
            node = self.hasher.node(self._stack.pop(), node)
            size >>= 1
        self._stack.append(node)
        self.size += 1

    def root(self) -> bytes:
        """``MTH`` of the leaves appended so far."""
        if not self._stack:
            return self.hasher.empty()
        node = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            node = self.hasher.node(left, node)
        return node
