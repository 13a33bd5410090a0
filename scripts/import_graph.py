"""The package's import graph against its layers (docs/architecture.md): modules, edges,
cycles, imports that climb a layer, and what the ``predict`` command's module reaches.

    .venv/bin/python scripts/import_graph.py [TREE] [START_MODULE]

TREE: a checkout (default: this one), e.g. a ``git worktree`` of an older commit, to
compare before and after a refactor; START_MODULE defaults to the predict command's module.
Uses the graph builder and layer table of ``tests/test_layers.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import networkx as nx

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))
import test_layers as layers  # noqa: E402


def main(argv: list[str]) -> None:
    tree = Path(argv[0]) if argv else HERE
    start = argv[1] if len(argv) > 1 else "poseboard.harness.commands"
    layers.ROOT = tree / "poseboard"
    graph = layers.import_graph()
    rank = {layer: i for i, (layer, _) in enumerate(layers.LAYERS)}

    def layer(module: str) -> str:
        try:
            return layers.layer_of(module)
        except AssertionError:  # a module an older tree has and the table does not name
            return "apps"

    climbs = sorted((a, b) for a, b in graph.edges
                    if rank[layer(b)] > rank[layer(a)] or (layer(a), layer(b)) in layers.SIBLINGS)
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    print(f"{tree}: {graph.number_of_nodes()} modules, {graph.number_of_edges()} import edges, "
          f"{len(cycles)} cycle group(s), {len(climbs)} import(s) climbing a layer")
    for c in cycles:
        print("  cycle:", " ↔ ".join(c))
    for a, b in climbs:
        print(f"  climbs: {a} ({layer(a)}) → {b} ({layer(b)})")
    if start in graph:
        reach = nx.descendants(graph, start) | {start}
        sub = [(a, b) for a, b in climbs if a in reach and b in reach]
        print(f"from {start}: {len(reach)} modules reachable, {len(sub)} of their imports climbing")


if __name__ == "__main__":
    main(sys.argv[1:])
