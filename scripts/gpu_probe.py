"""A profile's training stages, short and without DVC: seconds per 1,000 steps of each, the
projected time of the profile's full schedules, and whether a stage is deterministic.

    python scripts/gpu_probe.py WORKDIR [--profile gpu] [--device cuda] [--steps 100]
        [--pretrain-steps 200] [--methods algebraic volumetric ...] [--bf16 volumetric ...]
        [--repeat algebraic] [--data smoke-broad] [--limit 90]

Why not ``dvc repro`` (``scripts/paper_short.py`` does that for the ``paper`` profile): a lent
GPU machine has no DVC, and a session there has minutes. This renders a small world (the
``--data`` preset at the profile's crop size, ``synth-h36m``, ``synth-panoptic``,
``synth-mupots``), pre-trains the profile's backbone for ``--pretrain-steps`` and trains each
method in ``--methods`` (its ``init`` first when that is another method) for ``--steps``,
with the profile's networks, batches and precision (a method whose block starts from He et
al.'s ResNet-50, the ``paper`` profile's epipolar rows, gets it written first with no steps, as
``paper_short.py`` does), then predicts each method once on the
in-distribution protocol. ``--bf16`` trains those methods again under ``--precision bf16``;
``--repeat`` trains that method again with the same seed and compares every tensor of the two
``weights.pt``. Each command runs as the pipeline would run it (``python -m
poseboard.harness.commands``), under a wall-clock ``--limit``; a stage that fails or runs out
is reported and the rest go on.

Writes ``WORKDIR/gpu_probe.json`` and ``WORKDIR/gpu_probe.log`` and prints a Markdown table:
per stage the steps, batch, device, precision, seconds per 1,000 steps (the training loop's
own clock: no start-up, no validation) and the profile's full steps with their projected
minutes. The projection is linear in steps; the short run's first steps (allocation, cuDNN's
choices, workers starting) are in its rate, so it errs long.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from paper_short import (  # noqa: E402  (shared with the paper run)
    _stage_summaries,
    full_schedules,
    he_resnet50_args,
    needs_he_resnet50,
)

DATASETS = ("synth-h36m", "synth-panoptic", "synth-mupots")
DEFAULT_METHODS = ("ransac", "algebraic", "volumetric", "epipolar", "probabilistic", "rootnet", "algebraic-dome")


def short_params(params: dict[str, Any], profile: str, device: str, data: str, pretrain_steps: int,
                 steps: int, full: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """``params`` (params.yaml, parsed) with ``profile`` active on the ``data`` preset at its
    own crop size, on ``device``, and every training schedule in ``full`` cut to
    ``pretrain_steps`` / ``steps`` (one checkpoint and one validation at the end, 32
    validation frames); nothing else of the profile's blocks changes."""
    params["profile"] = profile
    block = params["profiles"][profile]
    block["data"] = {"preset": data, "crop_size": block["data"]["crop_size"]}
    block["device"] = device

    def shorten(cfg: dict[str, Any] | None, n: int) -> dict[str, Any]:
        cfg = dict(cfg or {})
        train = dict(cfg.get("train") or {})
        train.update(steps=n, checkpoint_every=n, val_every=n, log_every=min(50, n), val_samples=32)
        train["warmup_steps"] = min(int(train.get("warmup_steps") or 0), n // 10)
        cfg["train"] = train
        return cfg

    params["backbone"][profile] = shorten(params["backbone"].get(profile), pretrain_steps)
    for key, block in params["methods"].items():
        if f"train@{key}" in full:  # ransac and rootnet-k-only have no schedule
            block[profile] = shorten(block.get(profile), steps)
    return params


def with_inits(methods: list[str], params: dict[str, Any]) -> list[str]:
    """``methods`` with each one's ``init`` method trained before it (volumetric: algebraic)."""
    order: list[str] = []

    def add(name: str) -> None:
        init = params["methods"][name]["init"]
        if init in params["methods"] and init not in order:
            add(init)
        if name not in order:
            order.append(name)

    for name in methods:
        if name not in params["methods"]:
            raise SystemExit(f"--methods: no method {name!r} in params.yaml (have: {', '.join(params['methods'])})")
        add(name)
    return order


def projection_rows(summaries: dict[str, dict[str, Any]], full: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """One row per trained stage: its rate and the profile's full schedule at that rate."""
    rows = []
    for stage, s in summaries.items():
        if not s["steps"]:
            continue
        per_k = 1000 * s["seconds"] / s["steps"]
        full_steps, batch = full.get(stage.removesuffix("-bf16").removesuffix("-again"), (None, None))
        rows.append({"stage": stage, "steps": s["steps"], "batch": batch, "device": s["device"],
                     "precision": s["precision"], "train_seconds": round(s["seconds"], 1),
                     "seconds_per_1000_steps": round(per_k, 1), "full_steps": full_steps,
                     "projected_minutes": None if full_steps is None else round(per_k * full_steps / 1000 / 60, 1)})
    return rows


def compare_weights(a: Path, b: Path) -> dict[str, Any]:
    """How two ``weights.pt`` of the same method differ: tensors, bit-identical ones, largest gap."""
    import torch

    def flat(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        for key, value in (obj.items() if isinstance(obj, dict) else ()):
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            elif torch.is_tensor(value):
                out[prefix + key] = value
        return out

    ta = flat(torch.load(a, map_location="cpu", weights_only=True))
    tb = flat(torch.load(b, map_location="cpu", weights_only=True))
    shared = [k for k in ta if k in tb and ta[k].shape == tb[k].shape]
    gaps = [float((ta[k].double() - tb[k].double()).abs().max()) for k in shared if ta[k].numel()]
    return {"tensors": len(ta), "compared": len(shared), "identical": sum(torch.equal(ta[k], tb[k]) for k in shared),
            "max_abs_diff": max(gaps, default=0.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--profile", default="gpu")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=100, help="training steps of each method")
    parser.add_argument("--pretrain-steps", type=int, default=200)
    parser.add_argument("--methods", nargs="*", default=list(DEFAULT_METHODS))
    parser.add_argument("--bf16", nargs="*", default=[], help="methods to train again in bf16")
    parser.add_argument("--repeat", nargs="*", default=[], help="methods to train again, same seed (determinism)")
    parser.add_argument("--data", default="smoke-broad", help="the synthetic preset rendered")
    parser.add_argument("--limit", type=float, default=90.0, help="seconds each command may run")
    args = parser.parse_args(argv)

    work: Path = args.workdir
    if work.exists() and any(work.iterdir()):
        # Its checkpoints would resume (a stage of 0 new steps) and its log would mix two runs'
        # summaries, as the third GPU session's second call found.
        parser.error(f"{work} is not empty: a probe's stages would resume from its checkpoints and its rates "
                     "mix two runs; give an empty or new folder")
    work.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    methods = with_inits(args.methods, params)
    full = full_schedules(REPO / "params.yaml", args.profile)
    params = short_params(params, args.profile, args.device, args.data, args.pretrain_steps, args.steps, full)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               PYTHONUNBUFFERED="1")
    log = (work / "gpu_probe.log").open("a")
    walls: dict[str, float] = {}
    failed: dict[str, int] = {}

    def run(name: str, module_args: list[str]) -> None:
        start = time.monotonic()
        try:
            proc = subprocess.run([sys.executable, "-m", *module_args], cwd=work, env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=args.limit)
            code, output = proc.returncode, proc.stdout
        except subprocess.TimeoutExpired as exc:
            code, output = 124, exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        walls[name] = round(time.monotonic() - start, 1)
        log.write(f"== {name}: exit {code}, {walls[name]} s\n{output}\n")
        log.flush()
        print(f"{name}: exit {code}, {walls[name]} s", flush=True)
        if code:
            failed[name] = code
            print(output[-2000:], flush=True)

    common = ["--data-dir", "data", "--checkpoints", "checkpoints", "--profile", args.profile, "--config",
              "params.yaml", "--seed", "0", "--quiet", "--no-val"]
    for dataset in DATASETS:
        run(f"generate@{dataset}", ["poseboard.pipeline", "generate", "--params", "params.yaml", "--out", "data",
                                    "--dataset", dataset, "-j", "8"])
    if needs_he_resnet50(params, args.profile, methods):  # the paper profile's epipolar rows start there
        run("he2020-resnet50", he_resnet50_args(work, args.profile, args.device))
    run("pretrain_backbone", ["poseboard.harness.commands", "pretrain", "--dataset", "synth-h36m", "--config-key",
                              f"backbone.{args.profile}", *common])

    def train(key: str, name: str, *extra: str) -> None:
        block = params["methods"][key]
        run(f"train@{name}", ["poseboard.harness.commands", "train", block["method"], "--name", name, "--dataset",
                              block["dataset"], "--config-key", f"methods.{key}.{args.profile}", "--init",
                              block["init"], *common, *extra])

    for key in methods:
        train(key, key)
    for key in args.bf16:
        train(key, f"{key}-bf16", "--precision", "bf16")
    determinism = {}
    for key in args.repeat:
        train(key, f"{key}-again")
        first, again = work / "checkpoints" / key / "weights.pt", work / "checkpoints" / f"{key}-again" / "weights.pt"
        if first.exists() and again.exists():
            determinism[key] = compare_weights(first, again)
    for key in methods:
        block = params["methods"][key]
        if block["dataset"] == "synth-h36m":
            run(f"predict@{key}", ["poseboard.harness.commands", "predict", key, "--protocol",
                                   "synth-h36m-relative@3", "--data-dir", "data", "--checkpoints", "checkpoints",
                                   "--results", "results", "--seed", "0", "--quiet", "--declared-dataset",
                                   "synth-h36m", "--params", "params.yaml"])
    log.close()

    rows = projection_rows(_stage_summaries((work / "gpu_probe.log").read_text()), full)
    record = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "walls": walls, "failed": failed, "rows": rows, "determinism": determinism}
    (work / "gpu_probe.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\n| stage | steps | batch | device | precision | s / 1,000 steps | {args.profile} steps | projected min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['stage']} | {r['steps']} | {r['batch']} | {r['device']} | {r['precision']} | "
              f"{r['seconds_per_1000_steps']:,.0f} | {r['full_steps'] or '—'} | {r['projected_minutes'] or '—'} |")
    for key, d in determinism.items():
        print(f"\n{key} trained twice, seed 0: {d['identical']} of {d['compared']} tensors bit-identical, "
              f"largest difference {d['max_abs_diff']:.3g}")
    print(f"\nfailed: {failed or 'none'}; {work / 'gpu_probe.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
