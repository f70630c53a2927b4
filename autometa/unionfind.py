"""Disjoint sets of string keys (union-find), for grouping copies of a dataset into families."""
from __future__ import annotations

from typing import Iterable


class UnionFind:
    """Groups of keys joined by :meth:`union`; :meth:`find` names a key's group by its root key.

    ``smallest_root``: the smaller of two roots names the joined group (the result then does not
    depend on the order of the unions); otherwise the first argument's root does. Unknown keys
    are added on first use.
    """

    def __init__(self, keys: Iterable[str] = (), smallest_root: bool = False) -> None:
        self.parent: dict[str, str] = {k: k for k in keys}
        self.smallest_root = smallest_root

    def find(self, key: str) -> str:
        """The root key of ``key``'s group (path halving keeps the trees flat)."""
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        """Join the groups of ``a`` and ``b``."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.smallest_root and rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
