"""The trained methods of a checkpoints folder, each scored on the studio split through the
harness (:func:`poseboard.harness.multiview_pose.evaluate_method`: capability checks, what a
method may see, batching, timing, the predictions file and the result file).

A trained method is a folder ``<checkpoints>/<name>/`` with ``config.json`` (``"method"``: the
registered method; the folder's name is the variant's, e.g. ``epipolar-baseline``), as
``poseboard train`` writes it. The backbone folder and root-localisation methods (single view,
roots) are not multi-view pose methods and are passed over, with a note.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from poseboard.capabilities import Capabilities
from poseboard.checkpoint_origin import BoardCheckpoint, checkpoints_under
from poseboard.errors import CapabilityError, InputError
from poseboard.protocols.protocol import ProtocolDef


@dataclass(frozen=True)
class TrainedMethod:
    """One trained checkpoint: ``name`` (the folder: a method or a variant), ``registered``
    (the class it holds), ``directory`` and the class's ``capabilities``."""

    name: str
    registered: str
    directory: Path
    capabilities: Capabilities


#: Appended to the name of a board method whose checkpoint is not the board's (its DVC hash is
#: not ``dvc.lock``'s): it is scored and ranked under that name, so its results are never paired
#: with the board's row of the same method (the change from the board matches rows by name).
ANOTHER_RUN = ".another-run"

_TRAINS = re.compile(r"\bcommands train (\S+)")


def _board_multiview(checkpoints: Path) -> list[BoardCheckpoint]:
    """The board's multi-view method checkpoints under ``checkpoints`` (``dvc.lock``'s
    ``train@`` outputs whose method, from the stage's command, predicts multi-view 3D joints)."""
    from poseboard.methods.registry import REGISTRY, get_method

    out = []
    for c in checkpoints_under(checkpoints):
        m = _TRAINS.search(c.cmd)  # `… commands train <method> --name <key>`; else the key names the method
        registered = m.group(1) if m else c.stage.partition("@")[2]
        if c.stage.startswith("train@") and registered in REGISTRY.names():
            caps = get_method(registered).capabilities
            if "joints_3d" in caps.outputs and caps.multi_view:
                out.append(c)
    return out


def find_trained(checkpoints: str | Path) -> tuple[list[TrainedMethod], list[str]]:
    """The multi-view pose methods trained in ``checkpoints`` (sorted by name) and one note per
    folder passed over (why).

    Where ``checkpoints`` is the board's (a DVC repository's ``dvc.lock`` records them, issue 70):
    a missing folder or method names the two ways to get the board's weights (pull, or ``dvc
    repro train@<key>``, with the size and time of each); a board method whose checkpoint is not
    the board's (its DVC hash is not ``dvc.lock``'s) is badged: scored as ``<name>.another-run``
    (:data:`ANOTHER_RUN`), never compared with the board's row as if it were the board's."""
    from poseboard.checkpoint_origin import missing_checkpoints, origins
    from poseboard.harness.run import saved_method
    from poseboard.methods.registry import REGISTRY, get_method
    from poseboard.names import NAME_PATTERN

    root = Path(checkpoints)
    board = _board_multiview(root)
    if not root.is_dir():
        if board:
            raise InputError(missing_checkpoints(root, board, "checkpoints folder not found"))
        raise InputError(f"{root}: checkpoints folder not found; train the methods first (`make repro`, or "
                         "`poseboard train METHOD`) or point --checkpoints at a trained board's folder")
    found, skipped = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        config = folder / "config.json"
        if not config.is_file():
            if (folder / "backbone.json").is_file():
                continue  # the shared pre-trained backbone, not a method
            skipped.append(f"{folder.name}: no config.json (not a trained method)")
            continue
        if not NAME_PATTERN.fullmatch(folder.name):
            skipped.append(f"{folder.name}: not a valid method name")
            continue
        try:
            registered = saved_method(folder)
        except InputError as exc:
            skipped.append(f"{folder.name}: {exc}")
            continue
        if registered not in REGISTRY.names():
            skipped.append(f"{folder.name}: holds {registered!r}, which is not a registered method")
            continue
        caps = get_method(registered).capabilities
        if "joints_3d" not in caps.outputs or not caps.multi_view:
            skipped.append(f"{folder.name}: a {'single-view' if not caps.multi_view else 'root'} method, "
                           "not scored on multi-view poses")
            continue
        found.append(TrainedMethod(folder.name, registered, folder, caps))
    here = {m.name for m in found}
    absent = [c for c in board if Path(c.path).name not in here]
    if not found:
        passed = f"; passed over: {'; '.join(skipped)}" if skipped else ""
        if absent:
            raise InputError(missing_checkpoints(root, absent, "no trained multi-view method" + passed))
        raise InputError(f"{root}: no trained multi-view method (a folder with config.json, as `poseboard train` "
                         "writes); train them first (`make repro`) or point --checkpoints at a trained board's "
                         "folder" + passed)
    if absent:
        note = missing_checkpoints(root, absent, "not here, so not ranked")
        skipped.append(" ".join(line.strip() for line in note.splitlines()))
    by_path = {c.where: c for c in board}
    mine = [by_path[p] for m in found if (p := Path(os.path.abspath(m.directory))) in by_path]
    for o in origins(mine):
        if not o.is_boards:
            key = Path(o.checkpoint.path).name
            i = next(i for i, m in enumerate(found) if m.name == key)
            found[i] = replace(found[i], name=key + ANOTHER_RUN)
            skipped.append(f"{key}: scored as {key}{ANOTHER_RUN}, not as the board's {key}: {o.not_the_boards()}")
    return sorted(found, key=lambda m: m.name), skipped


def assign(methods: list[TrainedMethod], protocols: dict[str, ProtocolDef]) -> tuple[dict[str, list[TrainedMethod]],
                                                                                   list[str]]:
    """Each method under the first of ``protocols`` (in order: calibrated, then uncalibrated)
    whose capability check it passes, and one note per method that fits none (the checks' words)."""
    out: dict[str, list[TrainedMethod]] = {name: [] for name in protocols}
    refused = []
    for m in methods:
        why = []
        for name, protocol in protocols.items():
            try:
                protocol.check_method(m.name, m.capabilities)
            except CapabilityError as exc:
                why.append(str(exc))
                continue
            out[name].append(m)
            break
        else:
            refused.append(f"{m.name}: " + " / ".join(why))
    return out, refused


def load_trained(m: TrainedMethod) -> Any:
    """The method of a checkpoint, filed under its folder's name (as ``poseboard predict``)."""
    from poseboard.methods.registry import get_method

    method = get_method(m.registered).load(m.directory)
    if m.name != m.registered:
        method.name = m.name
        method.registered_as = m.registered
    return method


def score(m: TrainedMethod, protocols: list[ProtocolDef], *, data_dir: Path, results_dir: Path, batch_size: int,
          seed: int, device: Any, say: Callable[[str], None]) -> list[Path]:
    """Score ``m`` under each of ``protocols`` (its checkpoint loaded once); the result files."""
    from poseboard.harness.multiview_pose import evaluate_method

    method = load_trained(m)
    paths = []
    for protocol in protocols:
        say(f"predict {m.name} under {protocol.id}")
        _, path = evaluate_method(method, protocol, data_dir=data_dir, results_dir=results_dir,
                                  batch_size=batch_size, seed=seed, checkpoint=str(m.directory), progress=False,
                                  device=device)
        paths.append(path)
    return paths
