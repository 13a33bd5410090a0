"""A default-profile training's validation curve, on frames the board never scores.

Issue 30 asks whether the training schedules can stop where the validation error has
flattened. The train stage validates on the first frames of the test split, only at the
end (and, for algebraic, half-way): no curve, and frames the board scores. This retrains
one method exactly as the board's ``train@<name>`` stage did (the same config from
params.yaml, the same data, backbone and algebraic checkpoints, seed and threads) and,
every ``--every`` steps, measures its MPJPE on a *validation* split: the synth-h36m test
split of another world seed (``--val-seed``: the same generator settings, its own motion,
frames and body looks), rendered once into ``--val-data``. The evaluation runs inside
the training's own logging hook (a tracker), in eval mode, under ``no_grad`` and with the
RNG state put back, so the run is the board's run: at the end its weights are compared
with the board's ``checkpoints/<name>/weights.pt`` and the script says whether they are the
same bytes.

    POSEBOARD_THREADS=2 python scripts/learning_curves.py volumetric-norm --board /work/board5 \\
        --every 100 --out docs/learning_curves/volumetric-norm.json

Only multi-view pose methods whose ``predict`` needs nothing fitted after training (or,
for volumetric, the embedded algebraic pelvis model, attached before training here).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset


class EvaluatingTracker:
    """A tracker for ``Method.fit`` that measures the validation MPJPE at every logged step
    divisible by ``every``; nothing else it is handed is kept."""

    def __init__(self, method: Any, val: Any, frames: int, every: int) -> None:
        self.method, self.val, self.frames, self.every = method, val, frames, every
        self.curve: list[dict[str, float]] = []
        self.last_step = -1

    def log_params(self, params: dict[str, Any]) -> None:
        return None

    def log_artifact(self, path: str | Path) -> None:
        return None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """At a training log of a step divisible by ``every``: :meth:`measure`."""
        loss_key = next((k for k in metrics if k.endswith("/loss")), None)
        if step is not None and loss_key is not None and step % self.every == 0:
            self.measure(step, float(metrics[loss_key]))

    def measure(self, step: int, train_loss: float | None = None) -> None:
        """The validation MPJPE of the weights at ``step`` (once per step), in eval mode, under
        ``no_grad`` and with the RNG state put back; the training loop puts its modules back in
        train mode before its next step."""
        from poseboard.methods.algebraic import evaluate_mpjpe

        if step == self.last_step:
            return
        self.last_step = step
        tic = time.perf_counter()
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            self.method.net.eval()
            errors = evaluate_mpjpe(self.method, self.val, self.frames)
        self.curve.append({"step": int(step), "train_loss": train_loss, **errors,
                           "seconds": round(time.perf_counter() - tic, 1)})
        print(f"  step {step}: val mpjpe_rel {errors['mpjpe_rel']:.1f} mm, abs {errors['mpjpe_abs']:.1f} mm "
              f"({self.frames} frames, {time.perf_counter() - tic:.1f} s)", flush=True)


def validation_split(folder: Path, seed: int, crop_size: int) -> Path:
    """The synth-h36m test split of world ``seed`` (default preset), rendered once into
    ``folder/synth-h36m/test``."""
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_dataset

    split = folder / "synth-h36m" / "test"
    if not split.exists():
        generate_dataset("synth-h36m", SynthConfig.preset("default", crop_size=crop_size), folder, seed=seed,
                         splits=("test",), workers=None)
    return split


def same_weights(state: dict[str, Any], saved: dict[str, Any]) -> bool:
    """Whether two nested state dicts hold the same tensors, bit for bit."""
    if isinstance(state, dict) and isinstance(saved, dict):
        return state.keys() == saved.keys() and all(same_weights(state[k], saved[k]) for k in state)
    if isinstance(state, torch.Tensor) and isinstance(saved, torch.Tensor):
        return state.dtype == saved.dtype and state.shape == saved.shape and torch.equal(state, saved)
    return state == saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the params.yaml method key (e.g. volumetric-norm)")
    parser.add_argument("--board", type=Path, required=True, help="a workspace where the default `dvc repro` ran")
    parser.add_argument("--every", type=int, default=100, help="steps between validations")
    parser.add_argument("--val-frames", type=int, default=128, help="validation frames, evenly spaced")
    parser.add_argument("--val-seed", type=int, default=1, help="world seed of the validation split (not 0)")
    parser.add_argument("--val-data", type=Path, default=Path(tempfile.gettempdir()) / "poseboard-val")
    parser.add_argument("--out", type=Path, required=True, help="the curve (JSON)")
    args = parser.parse_args()

    from poseboard.allocator import keep_freed_memory
    from poseboard.datasets.sources import locate
    from poseboard.harness.config import build_config
    from poseboard.io import atomic_write_text
    from poseboard.methods.registry import get_method
    from poseboard.params import load_params

    keep_freed_memory()
    torch.set_num_threads(int(os.environ.get("POSEBOARD_THREADS", "2")))
    params = load_params(args.board / "params.yaml")
    if args.val_seed == params.seed:
        raise SystemExit(f"--val-seed {args.val_seed} is the board's own world seed: pick another")
    entry = params.methods[args.name]
    cls = get_method(entry.method)
    checkpoints = args.board / "checkpoints"
    cfg = build_config(cls.config_model, "default", args.board / "params.yaml", f"methods.{args.name}.default",
                       params.seed)
    updates = {k: str(checkpoints / v) for k, v in (("backbone_checkpoint", "backbone"),
                                                     ("algebraic_checkpoint", "algebraic"))
               if k in type(cfg).model_fields and getattr(cfg, k) is None}
    cfg = cfg.model_copy(update=updates)
    train = locate(entry.dataset, "train", None, data_dir=args.board / "data").dataset
    crop = params.active.data.crop_size or 128
    val_root = args.val_data / f"seed-{args.val_seed}-crop-{crop}"
    validation_split(val_root, args.val_seed, crop)
    full = locate("synth-h36m", "test", None, data_dir=val_root).dataset
    stride = max(1, len(full) // args.val_frames)  # spread over every sequence of the split
    val = Subset(full, range(0, stride * args.val_frames, stride)[: len(full)])

    method = cls(cfg)
    if hasattr(method, "attach_algebraic") and getattr(cfg, "algebraic_checkpoint", None):
        method.attach_algebraic(cfg.algebraic_checkpoint)  # its pelvis, for predict during training
    tracker = EvaluatingTracker(method, val, len(val), args.every)
    method.progress = False
    tic = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        method.fit(train, None, tracker=tracker, workdir=Path(work))
    seconds = time.perf_counter() - tic
    tracker.measure(cfg.train.steps)  # the final weights, when the schedule is not a multiple of --every
    saved = torch.load(checkpoints / args.name / "weights.pt", map_location="cpu", weights_only=True)
    identical = same_weights(method.state_dict(), saved)
    record = {"method": args.name, "steps": cfg.train.steps, "batch_size": cfg.train.batch_size,
              "schedule": cfg.train.schedule, "val_split": f"synth-h36m/test of world seed {args.val_seed}",
              "val_frames": len(val), "val_stride": stride, "threads": torch.get_num_threads(),
              "seconds_with_validation": round(seconds, 1),
              "weights_identical_to_board": identical, "curve": tracker.curve}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(record, indent=2) + "\n")
    print(f"{args.name}: {len(tracker.curve)} points, weights identical to the board's: {identical} → {args.out}")


if __name__ == "__main__":
    main()
