"""The `paper` profile, short: the papers' architectures and resolutions, a few hundred steps per
stage, end to end (`dvc repro`) on the synthetic world; then seconds per 1,000 steps of every
training stage and the projected time of the full paper schedules.

    python scripts/paper_short.py WORKDIR [--steps 300] [--device cuda] [--batch N]
        [--train-samples N] [--test-samples N] [--data smoke|default]

WORKDIR becomes a clone of this checkout's HEAD whose ``params.yaml`` makes ``paper`` the
active profile with:

- ``profiles.paper.data``: the synthetic world (``--data`` preset at the paper's 384 px crops,
  ``--train-samples`` / ``--test-samples`` frames per dataset) instead of the real datasets;
- every training stage (``backbone.paper`` and ``methods.<m>.paper``) at ``--steps`` steps,
  its batch the paper's unless ``--batch`` replaces it (a CPU check of the wiring needs small
  batches); everything else is the paper block as committed;
- He et al.'s ResNet-50 rows start, as the docs say, from a ResNet-50 written once into
  ``checkpoints/he2020-resnet50`` with no pre-training steps; with no ImageNet file on the
  machine (nothing is downloaded) its encoder is random, which changes accuracy, not speed.

It then runs ``scripts/timed_repro.py`` there (per-stage wall time; GPU utilisation and peak
memory where ``nvidia-smi`` exists) and writes ``WORKDIR/paper_short.json`` and a Markdown table:
per training stage the steps, batch, training seconds (the loop's own clock, from the stage's
summary line), seconds per 1,000 steps, and the paper schedule's steps and projected hours.
The projection is linear in steps at the run's batch; where ``--batch`` changed the batch it is
scaled by paper batch / run batch and marked so (an approximation: small batches use a device
less well).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SUMMARY = re.compile(r"^(?:train (\S+)|pretrain) on (\S+) \((\w+)\): (.*)$")


def full_schedules(params_file: Path, profile: str) -> dict[str, tuple[int, int]]:
    """Training stage → (steps, batch) of ``profile``'s full schedules as this checkout configures them."""
    sys.path.insert(0, str(REPO))
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import REGISTRY
    from poseboard.methods.train.pretrain import PretrainConfig
    from poseboard.params import load_params

    params = load_params(params_file)
    full: dict[str, tuple[int, int]] = {}
    cfg = build_config(PretrainConfig, profile, params_file, f"backbone.{profile}")
    full["pretrain_backbone"] = (cfg.train.steps, cfg.train.batch_size)
    for key, block in params.methods.items():
        cfg = build_config(REGISTRY.get(block.method).config_model, profile, params_file, f"methods.{key}.{profile}")
        train = getattr(cfg, "train", None)
        if train is not None and getattr(train, "steps", 0):
            full[f"train@{key}"] = (train.steps, train.batch_size)
    return full


def _short_params(params: dict[str, Any], args: argparse.Namespace, full: dict[str, tuple[int, int]]) -> dict:
    params["profile"] = "paper"
    paper = params["profiles"]["paper"]
    paper["data"] = {"preset": args.data, "crop_size": 384, "train_samples": args.train_samples,
                     "test_samples": args.test_samples}
    paper["device"] = args.device
    paper["seeds"] = [params["seed"]]

    def shorten(block: dict[str, Any]) -> None:
        train = block.setdefault("train", {})
        train["steps"] = args.steps
        train["checkpoint_every"] = args.steps
        train["val_every"] = args.steps
        train["log_every"] = min(50, args.steps)
        if args.batch is not None:
            train["batch_size"] = args.batch
        train["val_samples"] = min(64, args.test_samples)
        train["warmup_steps"] = min(int(train.get("warmup_steps") or 0), args.steps // 10)
        train["num_workers"] = args.workers

    params["backbone"]["paper"] = dict(params["backbone"].get("paper") or {})
    shorten(params["backbone"]["paper"])
    for key, block in params["methods"].items():
        if f"train@{key}" in full:
            block["paper"] = dict(block.get("paper") or {})
            shorten(block["paper"])
    return params


HE_RESNET50 = "checkpoints/he2020-resnet50"


def needs_he_resnet50(params: dict[str, Any], profile: str, methods: list[str]) -> bool:
    """Whether any of ``methods``' ``profile`` blocks (params.yaml, parsed) has its
    ``backbone_checkpoint`` in He et al.'s ResNet-50, ``checkpoints/he2020-resnet50`` (the
    `paper` profile's epipolar rows)."""
    return any(str((params["methods"][m].get(profile) or {}).get("backbone_checkpoint") or "").startswith(HE_RESNET50)
               for m in methods)


def he_resnet50_args(work: Path, profile: str, device: str) -> list[str]:
    """``python -m`` arguments that write He et al.'s ResNet-50 into ``work/checkpoints/he2020-resnet50``
    with no pre-training steps (docs/real_datasets.md: the ResNet-50 rows' starting point; with no
    ImageNet file on the machine its encoder is random). Writes the one-line config it reads; run in
    ``work`` after the synthetic data are rendered."""
    (work / "he2020-resnet50.yaml").write_text("backbone: {backbone: {depths: [3, 4, 6, 3]}, train: {steps: 0}}\n")
    return ["poseboard.harness.commands", "pretrain", "--profile", profile, "--dataset", "synth-h36m",
            "--checkpoints", HE_RESNET50, "--config", "he2020-resnet50.yaml", "--config-key", "backbone",
            "--no-val", "--quiet", "--device", device]


def _stage_summaries(log: str) -> dict[str, dict[str, Any]]:
    """Stage → its training summary (the loop's seconds and steps), from the commands' output."""
    found: dict[str, dict[str, Any]] = {}
    for line in log.splitlines():
        m = SUMMARY.match(line.strip())
        if not m:
            continue
        name, device, precision, rest = m.groups()
        if name is None:  # pretrain on cpu (fp32): steps 0→300 in 812 s; val {...} → checkpoints/backbone
            steps = re.search(r"steps (\d+)→(\d+) in (\d+(?:\.\d+)?) s", rest)
            if steps and "he2020" not in rest:
                found["pretrain_backbone"] = {"steps": int(steps.group(2)) - int(steps.group(1)),
                                              "seconds": float(steps.group(3)), "device": device,
                                              "precision": precision}
            continue
        summary = json.loads(rest.rsplit(" → ", 1)[0])
        found[f"train@{name}"] = {"steps": int(summary.get("steps", 0)) - int(summary.get("resumed_from") or 0),
                                  "seconds": float(summary["seconds"]), "device": device, "precision": precision}
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--steps", type=int, default=300, help="training steps per stage")
    parser.add_argument("--batch", type=int, default=None, help="replace every stage's batch size")
    parser.add_argument("--device", default="auto", help="profiles.paper.device")
    parser.add_argument("--data", default="smoke", choices=["smoke", "default"], help="synthetic preset")
    parser.add_argument("--train-samples", type=int, default=2000, help="training frames per dataset")
    parser.add_argument("--test-samples", type=int, default=200, help="test frames per dataset")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers per training stage")
    parser.add_argument("--dvc-args", default="", help="extra `dvc repro` arguments (e.g. a stage to stop at)")
    args = parser.parse_args(argv)
    work: Path = args.workdir
    if not (work / ".git").exists():
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(work)], check=True)
    full = full_schedules(REPO / "params.yaml", "paper")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (work / "params.yaml").write_text(yaml.safe_dump(_short_params(params, args, full), sort_keys=False))
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    if not (work / HE_RESNET50 / "backbone").exists():
        subprocess.run([sys.executable, "-m", "poseboard.pipeline", "generate", "--params", "params.yaml",
                        "--out", "data"], cwd=work, env=env, check=True)
        subprocess.run([sys.executable, "-m", *he_resnet50_args(work, "paper", args.device)], cwd=work, env=env,
                       check=True)
    log_path = work / "paper_short.log"
    with log_path.open("a") as log:
        proc = subprocess.run([sys.executable, str(REPO / "scripts" / "timed_repro.py"), "--out",
                               str(work / "stage_times.json"), "--cwd", str(work), "--", *args.dvc_args.split()],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        log.write(proc.stdout)
    sys.stdout.write(proc.stdout[-4000:])
    times = json.loads((work / "stage_times.json").read_text())
    summaries = _stage_summaries(log_path.read_text())
    rows = []
    for stage, (paper_steps, paper_batch) in full.items():
        s = summaries.get(stage)
        if s is None or not s["steps"]:
            continue
        batch = args.batch or paper_batch
        per_k = 1000 * s["seconds"] / s["steps"]
        scale = paper_batch / batch
        rows.append({"stage": stage, "steps": s["steps"], "batch": batch, "device": s["device"],
                     "precision": s["precision"], "train_seconds": round(s["seconds"], 1),
                     "stage_seconds": (times["stages"].get(stage) or {}).get("seconds"),
                     "gpu_utilisation_mean_pct": (times["stages"].get(stage) or {}).get("gpu_utilisation_mean_pct"),
                     "gpu_memory_peak_mib": (times["stages"].get(stage) or {}).get("gpu_memory_peak_mib"),
                     "seconds_per_1000_steps": round(per_k, 1), "paper_steps": paper_steps,
                     "paper_batch": paper_batch, "batch_scaled": scale != 1,
                     "projected_hours": round(per_k * paper_steps / 1000 * scale / 3600, 1)})
    record = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
              "dvc_exit_code": proc.returncode, "rows": rows, "stages": times["stages"]}
    (work / "paper_short.json").write_text(json.dumps(record, indent=2) + "\n")
    print("\n| stage | steps | batch | device | s / 1,000 steps | paper steps (batch) | projected h |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        mark = " (batch-scaled)" if r["batch_scaled"] else ""
        print(f"| {r['stage']} | {r['steps']} | {r['batch']} | {r['device']} | {r['seconds_per_1000_steps']:,.0f} | "
              f"{r['paper_steps']:,} ({r['paper_batch']}) | {r['projected_hours']:,.1f}{mark} |")
    print(f"\ndvc exit code {proc.returncode}; {work / 'paper_short.json'}")
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
