"""Agencies and categories form trees through ``parent_id``; these helpers
order them for display and keep them trees (no node under itself)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar


class TreeNode(Protocol):
    """What the helpers read: an agency or a category."""

    @property
    def id(self) -> int: ...

    @property
    def parent_id(self) -> int | None: ...


Node = TypeVar("Node", bound=TreeNode)


def walk(nodes: Iterable[Node], sort_key: Callable[[Node], Any]) -> list[tuple[Node, int]]:
    """Every node once, depth first, each with its depth (0 for a root).

    A node whose parent is missing from ``nodes`` is shown as a root, and a
    loop already in the data (written outside this app) cannot hang the page.
    """
    nodes = list(nodes)
    ids = {n.id for n in nodes}
    children: dict[int | None, list[Node]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id if node.parent_id in ids else None].append(node)
    ordered: list[tuple[Node, int]] = []
    seen: set[int] = set()

    def visit(node: Node, depth: int) -> None:
        if node.id in seen:
            return
        seen.add(node.id)
        ordered.append((node, depth))
        for child in sorted(children[node.id], key=sort_key):
            visit(child, depth + 1)

    for root in sorted(children[None], key=sort_key):
        visit(root, 0)
    for node in sorted(nodes, key=sort_key):  # members of a loop have no root
        visit(node, 0)
    return ordered


def subtree_ids(node_id: int, parent_of: dict[int, int | None]) -> set[int]:
    """``node_id`` and every node below it, given each node's parent."""
    below = {node_id}
    grew = True
    while grew:
        grew = False
        for child, parent in parent_of.items():
            if parent in below and child not in below:
                below.add(child)
                grew = True
    return below


def creates_cycle(node_id: int, new_parent_id: int | None, parent_of: dict[int, int | None]) -> bool:
    """Whether hanging ``node_id`` under ``new_parent_id`` would put it under itself."""
    seen: set[int] = set()
    current = new_parent_id
    while current is not None and current not in seen:
        if current == node_id:
            return True
        seen.add(current)
        current = parent_of.get(current)
    return False
