"""Training-seed replicates: the pipeline's training and scoring again with another seed.

A leaderboard built on one training run calls differences significant that another seed
reverses: the intervals of a single run cover test-set sampling only. A replicate trains the
backbone and every method of ``params.yaml`` again with seed ``k`` on the *same* data (the
data stay those of the top-level ``seed``, so every replicate is scored on the same test
frames and pairs with the others), writing checkpoints to ``checkpoints/seed-<k>/`` and result
files to ``results/seed-<k>/<method>/``. The report then averages each method over its seeds,
shows the seed spread, and resamples seeds with sequences in its paired comparisons.

The commands are exactly the DVC stages' (``dvc.yaml``: pretrain_backbone, train, predict,
score) with the seed, the checkpoint folder and the results folder changed, run one after the
other in ``init`` order; a stage whose output already exists is skipped, so an interrupted
replicate resumes. A ``device`` or ``precision`` given to the replicate is passed to every
command that computes (pretrain, train, predict); otherwise each resolves its own as a DVC stage
does (``POSEBOARD_DEVICE``, then the profile's ``device``, and the backbone block's ``precision``
for pretrain, the profile's ``train_precision`` for train, then its ``precision``, in the params
file).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from poseboard.errors import InputError, PoseboardError
from poseboard.pipeline_env import THREADS_ENV, pipeline_env

if TYPE_CHECKING:
    from poseboard.params import Params

__all__ = ["ReplicateStep", "check_run_options", "init_chain", "replicate_steps", "run_replicate", "unseeded_methods"]


@dataclass(frozen=True)
class ReplicateStep:
    """One command of a replicate and the file whose existence means it is done."""

    name: str
    argv: tuple[str, ...]
    done_when: Path

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


def _training_order(methods: dict) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        init = methods[name].init
        if init not in ("backbone", "none"):
            visit(init)
        order.append(name)

    for name in methods:
        visit(name)
    return order


def init_chain(params: Params, methods: Iterable[str]) -> set[str]:
    """``methods`` and every method their ``init`` chains start from (``params.yaml`` keys;
    the backbone and ``none`` are not methods)."""
    needed: set[str] = set()
    for key in methods:
        while key not in ("backbone", "none") and key not in needed:
            needed.add(key)
            key = params.methods[key].init
    return needed


def check_run_options(device: str | None, precision: str | None, params_file: Path, dry_run: bool
                      ) -> str | None:
    """Refuse a ``--device`` or ``--precision`` before the first step of a replicate (or a
    ladder's rung) writes: a dry run checks the spellings only (its commands may be meant for
    another machine), a run resolves them on this one (pretrain and predict, then the methods'
    training, which takes the profile's ``train_precision``). Returns the device's canonical
    spelling (None stays None)."""
    if dry_run:
        from poseboard.device import PRECISION_SPELLINGS, check_device_spelling

        canonical = check_device_spelling(device) if device is not None else None
        if precision is not None and precision not in PRECISION_SPELLINGS:
            raise PoseboardError(f"--precision: {precision!r} is not one of {', '.join(PRECISION_SPELLINGS)}")
        return canonical
    from poseboard.harness.commands import resolve_run

    for training in (False, True):
        resolve_run(device, precision, params_file=params_file, training=training)
    return device


def unseeded_methods(params_file: Path, params: Params | None = None,
                     keys: Iterable[str] | None = None) -> list[str]:
    """The methods (``params.yaml`` keys) whose results depend on no training seed: the config
    their training builds (:func:`~poseboard.harness.config.build_config`, as ``train`` does) is
    the same for two seeds (``rootnet-k-only``: nothing is learned, no backbone is read, no
    ``seed`` to set). A replicate of one repeats the pipeline's own results under another seed's
    folder, which the leaderboard cannot average (two result files, no recorded seed); replicates
    leave them out. ``params``: the file's, already loaded; ``keys``: only these methods are
    looked at (each costs two config builds)."""
    from poseboard.harness.config import build_config
    from poseboard.methods.registry import get_method
    from poseboard.params import load_params

    params = params or load_params(params_file)
    out = []
    for key, block in params.methods.items():
        if keys is not None and key not in keys:
            continue
        model, where = get_method(block.method).config_model, f"methods.{key}.{params.profile}"
        if build_config(model, params.profile, params_file, where, seed=0) == \
                build_config(model, params.profile, params_file, where, seed=1):
            out.append(key)
    return out


def replicate_steps(params_file: Path, seed: int, data_dir: Path = Path("data"),
                    checkpoints: Path = Path("checkpoints"), results: Path = Path("results"),
                    reuse_backbone: bool = False, only: list[str] | None = None,
                    protocols: list[str] | None = None, device: str | None = None,
                    precision: str | None = None, folder: str | None = None) -> list[ReplicateStep]:
    """The commands of the replicate with training seed ``seed``, in the order they run.

    With ``reuse_backbone`` the pipeline's pre-trained backbone is copied instead of trained
    again: the replicate then measures the methods' own training noise, not the backbone's
    (cheaper, and a lower bound of the full seed spread); neither runs when no method trained
    starts from the backbone (``init: none``). ``only`` limits the replicate to those
    methods (``params.yaml`` keys): they and the methods they start from are trained, and only
    their evaluations are scored; without it, every method but the :func:`unseeded_methods`.
    ``protocols`` (names) limits the evaluations and scores to
    those protocols. ``device`` and ``precision`` (spellings of ``--device`` and
    ``--precision``) are appended to the pretrain, train and predict commands when given.
    ``folder`` (a relative path) replaces ``seed-<seed>`` under ``checkpoints`` and ``results``:
    another run of the pipeline's commands on its data (a budget ladder's rung,
    :mod:`poseboard.studies.ladder`, trains its own params file with the pipeline's seed there).

    Raises:
        InputError: ``seed`` is the pipeline's own seed and no ``folder`` is given (its results
            are the DVC pipeline's), or ``only`` names a method that depends on no training seed.
    """
    from poseboard.params import load_params

    params = load_params(params_file)
    if seed == params.seed and folder is None:
        raise InputError(f"seed {seed} is the pipeline's own run (params.yaml `seed`): `dvc repro` makes it; "
                         "a replicate takes another seed")
    if seed < 0:
        raise InputError(f"a seed is a non-negative integer, got {seed}")
    profile, py = params.profile, sys.executable
    unknown = sorted(set(only or ()) - set(params.methods))
    if unknown:
        raise InputError(f"--only: {', '.join(unknown)} not under `methods` in {params_file} "
                         f"(known: {', '.join(params.methods)})")
    unseeded = set(unseeded_methods(params_file, params, keys=set(only) if only else None))
    wanted = set(params.methods) - unseeded if not only else set(only)
    if wanted & unseeded:
        raise InputError(f"--only: {', '.join(sorted(wanted & unseeded))} depends on no training seed (its "
                         "config takes no seed): a replicate would repeat the pipeline's own "
                         "results; leave it out")
    needed = init_chain(params, wanted)
    folder = folder if folder is not None else f"seed-{seed}"
    ckpt, res = checkpoints / folder, results / folder
    common = ("--data-dir", str(data_dir), "--checkpoints", str(ckpt))
    on: tuple[str, ...] = (*(("--device", device) if device is not None else ()),
                           *(("--precision", precision) if precision is not None else ()))
    if not any(params.methods[key].init == "backbone" for key in needed):
        steps: list[ReplicateStep] = []  # all start from `init: none`: no pre-training runs for them (dvc.yaml)
    elif reuse_backbone:
        copy = ("import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2] + '.tmp', dirs_exist_ok=True); "
                "shutil.rmtree(sys.argv[2], ignore_errors=True); shutil.move(sys.argv[2] + '.tmp', sys.argv[2])")
        steps = [ReplicateStep("copy the pipeline's backbone", (
            py, "-c", copy, str(checkpoints / "backbone"), str(ckpt / "backbone")), ckpt / "backbone" / "backbone.pt")]
    else:
        steps = [ReplicateStep("pretrain_backbone", (
            py, "-m", "poseboard.harness.commands", "pretrain", *common, "--dataset", "synth-h36m",
            "--profile", profile, "--config", str(params_file), "--config-key", f"backbone.{profile}",
            "--seed", str(seed), "--quiet", *on), ckpt / "backbone" / "backbone.pt")]
    for key in _training_order(params.methods):
        if key not in needed:
            continue
        block = params.methods[key]
        steps.append(ReplicateStep(f"train@{key}", (
            py, "-m", "poseboard.harness.commands", "train", block.method, "--name", key, *common,
            "--dataset", block.dataset, "--profile", profile, "--config", str(params_file),
            "--config-key", f"methods.{key}.{profile}", "--seed", str(seed), "--init", block.init, "--quiet", *on),
            ckpt / key / "weights.pt"))  # written after config.json
    for key, ev in params.evaluations.items():
        if ev.method not in wanted or (protocols and ev.protocol not in protocols):
            continue
        pid = f"{ev.protocol}@{ev.version}"
        steps.append(ReplicateStep(f"predict@{key}", (
            py, "-m", "poseboard.harness.commands", "predict", ev.method, "--protocol", pid, *common,
            "--results", str(res), "--seed", str(seed), "--quiet", "--declared-dataset", ev.dataset,
            "--params", str(params_file), *on),
            res / ev.method / f"{pid}.json"))
    for key, sc in params.scores.items():
        if sc.method not in wanted or (protocols and sc.protocol not in protocols):
            continue
        pid = f"{sc.protocol}@{sc.version}"
        steps.append(ReplicateStep(f"score@{key}", (
            py, "-m", "poseboard.pipeline", "score", sc.method, "--protocol", pid, "--predictions", sc.predictions,
            "--data-dir", str(data_dir), "--results", str(res), "--declared-dataset", sc.dataset),
            res / sc.method / f"{pid}.json"))
    return steps


def run_replicate(steps: list[ReplicateStep], echo=print) -> int:
    """Run the steps not yet done, in order; stop at the first that fails (its exit status).

    Each runs in :func:`~poseboard.pipeline_env.pipeline_env`: at the board's torch thread count
    unless ``POSEBOARD_THREADS`` is set, since the thread count changes a training's floats."""
    env = pipeline_env()
    echo(f"torch threads per step: {env[THREADS_ENV]} ({THREADS_ENV})")
    for step in steps:
        if step.done_when.exists():
            echo(f"{step.name}: done ({step.done_when} exists)")
            continue
        echo(f"{step.name}: {step.command}")
        code = subprocess.call(list(step.argv), env=env)
        if code != 0:
            echo(f"{step.name} failed (exit {code}); fix it and run the replicate again: finished steps are kept")
            return code
    return 0
