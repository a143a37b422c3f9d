"""Outstanding tokens of one pool's replicas, for the least-loaded routers (``ReplicaLoads``)."""

from __future__ import annotations

__all__ = ["ReplicaLoads"]


class ReplicaLoads:
    """Outstanding tokens of one pool's replicas, with the least-loaded replica (ties: the
    lowest index) in O(1) and each change in O(log R): a min segment tree over the pairs
    ``(load, index)``, kept only when ``tree`` (the ``least_outstanding_tokens`` router on a
    pool of more than ``TREE_MIN`` replicas; below that a scan is as fast).

    A pair is held as the one integer ``load << bits | index`` (``bits`` wide enough for every
    index), which orders exactly as the pair does (loads are whole numbers of tokens), so a
    node is one integer comparison; an update stops at the first ancestor it leaves as it
    was."""

    __slots__ = ("bits", "loads", "size", "tree")

    TREE_MIN = 16

    def __init__(self, replicas: int, tree: bool) -> None:
        self.loads = [0] * replicas
        self.size = 0
        self.bits = 0
        self.tree: list[int] | None = None
        if tree and replicas > self.TREE_MIN:
            size = 1 << (replicas - 1).bit_length()
            bits = size.bit_length()
            t = list(range(size)) * 2  # leaves at size + i: load 0, index i
            for i in range(replicas, size):
                t[size + i] = (1 << 62) << bits | i  # pads never win
            for i in range(size - 1, 0, -1):
                a, b = t[2 * i], t[2 * i + 1]
                t[i] = a if a <= b else b
            self.size, self.bits, self.tree = size, bits, t

    def __getitem__(self, i: int) -> int:
        return self.loads[i]

    def add(self, i: int, delta: int) -> None:
        v = self.loads[i] + delta
        self.loads[i] = v
        t = self.tree
        if t is None:
            return
        j = self.size + i
        t[j] = v << self.bits | i
        j >>= 1
        while j:
            a, b = t[2 * j], t[2 * j + 1]
            m = a if a <= b else b
            if t[j] == m:
                return
            t[j] = m
            j >>= 1

    def least(self) -> int:
        """Index of the least-loaded replica (the lowest index among equals)."""
        if self.tree is not None:
            return self.tree[1] & ((1 << self.bits) - 1)
        loads = self.loads
        return loads.index(min(loads))
