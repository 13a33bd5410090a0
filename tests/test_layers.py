"""The package's layers (docs/architecture.md), checked on every import in the source,
module-level or inside a function: nothing imports a layer above its own, the methods and
the protocols do not import each other, and there is no import cycle (issue 19)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "poseboard"

#: Lowest first. A module may import its own layer and any layer below, except the siblings
#: noted in SIBLINGS.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", ("poseboard", "poseboard.errors", "poseboard.io", "poseboard.names", "poseboard.device",
              "poseboard.allocator", "poseboard.provenance", "poseboard.skeleton", "poseboard.camera",
              "poseboard.geometry", "poseboard.samples", "poseboard.capabilities", "poseboard.gitrepo",
              "poseboard.pipeline_env", "poseboard.checkpoint_origin")),
    ("protocols", ("poseboard.protocols",)),
    ("datasets", ("poseboard.datasets",)),
    ("methods", ("poseboard.methods",)),
    ("config", ("poseboard.params",)),
    ("harness", ("poseboard.harness",)),
    ("apps", ("poseboard.pipeline", "poseboard.board", "poseboard.comparison", "poseboard.report", "poseboard.tracking",
              "poseboard.studio", "poseboard.fingerprint")),
    ("workflows", ("poseboard.workflows",)),
    # research tools beside the user's workflows (issue 81): they may use a workflow (a ladder rung
    # is a seed replicate), no workflow uses them
    ("studies", ("poseboard.studies",)),
    ("cli", ("poseboard.cli",)),
)
#: A layer that must not import one below it: a method knows nothing of how it is evaluated
#: (a protocol never sees a method either: the protocols sit below the methods).
SIBLINGS = {("methods", "protocols")}


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def layer_of(module: str) -> str:
    best, length = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def import_graph() -> nx.DiGraph:
    """Module → module it imports (every ``import``/``from … import`` anywhere in the file)."""
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def test_every_module_has_a_layer():
    for module in _modules():
        layer_of(module)


def test_no_import_climbs_a_layer():
    rank = {layer: i for i, (layer, _) in enumerate(LAYERS)}
    bad = []
    for a, b in import_graph().edges:
        la, lb = layer_of(a), layer_of(b)
        if rank[lb] > rank[la] or (la, lb) in SIBLINGS:
            bad.append(f"{a} ({la}) imports {b} ({lb})")
    assert bad == [], "\n".join(bad)


def test_no_import_cycle():
    cycles = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    assert cycles == []


def test_the_checks_can_fail():
    """The graph sees function-level imports, and the rule flags a climb."""
    graph = import_graph()
    assert graph.has_edge("poseboard.harness.run", "poseboard.harness.root_localisation")
    assert layer_of("poseboard.methods.rootnet") == "methods" and layer_of("poseboard.harness.run") == "harness"
    assert layer_of("poseboard.datasets.synthetic.render") == "datasets"


def test_the_studies_have_their_own_place():
    """The paper-condition studies and the budget ladders live in poseboard.studies, above the
    workflows: nothing else in the package imports them but the command line, and no workflow
    module is a study."""
    graph = import_graph()
    studies = {m for m in graph if layer_of(m) == "studies"}
    assert {"poseboard.studies.paper_conditions", "poseboard.studies.volumetric_conditions",
            "poseboard.studies.epipolar_conditions", "poseboard.studies.epipolar_trained",
            "poseboard.studies.ladder", "poseboard.studies.commands"} <= studies
    users = {a for a, b in graph.edges if b in studies and a not in studies}
    assert users == {"poseboard.cli"}
    assert graph.has_edge("poseboard.studies.commands", "poseboard.workflows.replicates")
    workflows = {m.rsplit(".", 1)[-1] for m in graph if m.startswith("poseboard.workflows.")}
    assert not workflows & {"paper_conditions", "volumetric_conditions", "epipolar_conditions",
                            "epipolar_trained", "ladder", "ladder_commands"}
