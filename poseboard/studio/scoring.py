"""The trained methods of a checkpoints folder, each scored on the studio split through the
harness (:func:`poseboard.harness.multiview_pose.evaluate_method`: capability checks, what a
method may see, batching, timing, the predictions file and the result file).

A trained method is a folder ``<checkpoints>/<name>/`` with ``config.json`` (``"method"``: the
registered method; the folder's name is the variant's, e.g. ``epipolar-baseline``), as
``poseboard train`` writes it. The backbone folder and root-localisation methods (single view,
roots) are not multi-view pose methods and are passed over, with a note.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from poseboard.capabilities import Capabilities
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


def find_trained(checkpoints: str | Path) -> tuple[list[TrainedMethod], list[str]]:
    """The multi-view pose methods trained in ``checkpoints`` (sorted by name) and one note per
    folder passed over (why)."""
    from poseboard.harness.run import saved_method
    from poseboard.methods.registry import REGISTRY, get_method
    from poseboard.names import NAME_PATTERN

    root = Path(checkpoints)
    if not root.is_dir():
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
    if not found:
        raise InputError(f"{root}: no trained multi-view method (a folder with config.json, as `poseboard train` "
                         "writes); train them first (`make repro`) or point --checkpoints at a trained board's "
                         "folder" + (f"; passed over: {'; '.join(skipped)}" if skipped else ""))
    return found, skipped


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
