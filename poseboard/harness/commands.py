"""``poseboard pretrain``, ``poseboard train METHOD`` and ``poseboard predict METHOD``; and
``poseboard evaluate`` and ``poseboard submit``, which score a predictions file made elsewhere.

Plain functions with typer annotations; the main CLI registers them
(``app.command("pretrain")(pretrain)`` …). Heavy modules (torch, the methods) are imported
inside the bodies, so importing this module is cheap. ``python -m poseboard.harness.commands``
runs the first three standalone (the DVC stages).

Folders (all arguments, so DVC stages can name them):

* ``--data-dir``: holds ``<dataset>/<split>/`` (``poseboard generate``);
* ``--checkpoints``: ``backbone/`` (pretrain), ``<method>/`` (a saved method: ``config.json``
  + ``weights.pt``) and ``<method>/work/`` (the resumable run: ``checkpoint.pt``,
  ``metrics.jsonl``);
* ``--results``: ``<method>/<protocol>@<v>.json`` and ``<method>/<protocol>@<v>.npz``;
* ``--params``: the ``params.yaml`` whose ``real_data`` block says where the real datasets
  (``human36m``, ``panoptic``, ``mupots``) are (default ``./params.yaml`` if present; the
  ``POSEBOARD_*_ROOT`` environment variables fill in unset paths).

Hyper-parameters: the ``--profile`` preset (``smoke``, ``default``, ``paper``) of the stage's
config model, then the mapping at ``--config-key`` (dotted, e.g. ``methods.algebraic``) of
the YAML/JSON file ``--config`` merged over it, key by key.

Where they compute (:func:`resolve_run`): ``--device auto|cpu|cuda|cuda:N``, else the
``POSEBOARD_DEVICE`` environment variable, else the profile's ``device`` key in the params file
(``--params``, else ``--config`` when it is a params file, else ``./params.yaml``; the profile
is ``--profile``, for ``predict`` the file's active one), else ``auto`` (CUDA when available);
``--precision fp32|bf16|auto``, else (``pretrain``) the backbone block's ``precision`` or
(``train``) the profile's ``train_precision``, else the profile's ``precision``, else ``fp32``. A device this
machine does not have stops the command (exit 2) before it writes anything, naming the
option and the devices it has.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from poseboard.errors import InputError, PoseboardError, command_app
from poseboard.harness.config import build_config

if TYPE_CHECKING:
    import torch

ProfileOpt = Annotated[str, typer.Option("--profile", help="hyper-parameter preset: smoke, default, gpu or paper")]
DataDirOpt = Annotated[Path, typer.Option("--data-dir", help="folder holding <dataset>/<split>/")]
CheckpointsOpt = Annotated[Path, typer.Option("--checkpoints", help="folder of backbone/ and <method>/")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML/JSON file of hyper-parameter overrides")]
ConfigKeyOpt = Annotated[
    str | None, typer.Option("--config-key", help="dotted key of the block in --config, e.g. methods.algebraic")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="training seed (overrides the config's)")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]
NameOpt = Annotated[
    str | None,
    typer.Option("--name", help="file the checkpoint and results under this variant name (default: the method)"),
]
ThreadsOpt = Annotated[
    int | None, typer.Option("--threads", help="torch CPU threads (default: POSEBOARD_THREADS or 1)")
]
DeclaredDatasetOpt = Annotated[
    str | None,
    typer.Option("--declared-dataset", help="the dataset folder the calling DVC stage depends on (params.yaml: "
                                            "the evaluation's `dataset`); refused if the protocol reads another"),
]
ParamsOpt = Annotated[
    Path | None,
    typer.Option("--params", help="params.yaml whose real_data block locates the real datasets "
                                   "(default: ./params.yaml if present, else the POSEBOARD_*_ROOT variables)"),
]

DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="where to compute: auto (CUDA when available), cpu, cuda or cuda:N (default: "
                                   "POSEBOARD_DEVICE, else the profile's `device` in params.yaml, else auto)"),
]
PrecisionOpt = Annotated[
    str | None,
    typer.Option("--precision", help="fp32, bf16 (matrix products and convolutions in bfloat16) or auto (bf16 where "
                                      "the device computes it in hardware, else fp32); default: the profile's "
                                      "`precision` in params.yaml (for pretrain, the backbone block's first; for "
                                      "train, the profile's `train_precision`), else fp32"),
]


def real_data_params(params: Path | None) -> Path | None:
    """The ``params.yaml`` the real datasets are located from: ``--params``, else
    ``./params.yaml`` when it exists, else None (environment variables only). The file is
    read only when a real dataset is asked for."""
    if params is not None:
        return params
    default = Path("params.yaml")
    return default if default.is_file() else None


def params_file_of(params: Path | None = None, config: Path | None = None) -> Path | None:
    """The params file a command reads its profile's ``device`` and ``precision`` from:
    ``--params``, else ``--config`` when it is a params file (a mapping with ``profiles``, as
    the DVC stages pass ``--config params.yaml``), else ``./params.yaml`` when it exists."""
    from poseboard.params import is_params_file

    if params is not None:
        return params
    if config is not None and is_params_file(config):
        return config
    return real_data_params(None)


def resolve_run(device: str | None = None, precision: str | None = None, *, profile: str | None = None,
                params_file: Path | None = None, training: bool = False) -> tuple[torch.device, str]:
    """The device and precision a command runs in; call it first, before anything is written.

    Device: ``device`` (``--device``), else ``POSEBOARD_DEVICE``, else ``profiles.<profile>.device``
    of ``params_file`` (``profile`` None: the file's active one), else ``auto``. Precision:
    ``precision``, else (``training``: a method's training) ``profiles.<profile>.train_precision``
    when set, else ``profiles.<profile>.precision``, else ``fp32``; ``auto`` is resolved on
    the device (:func:`poseboard.device.resolve_precision`), so the returned one is ``fp32`` or
    ``bf16``.

    Raises:
        InputError: a misspelt device or precision, or a device this machine does not have;
            the message names where the spelling came from and the devices available.
    """
    from poseboard.device import DEVICE_ENV, resolve_device, resolve_precision
    from poseboard.errors import InputError
    from poseboard.params import profile_run_options

    options = profile_run_options(params_file, profile) if params_file is not None else None
    if device is not None:
        where: torch.device = resolve_device(device, "--device")
    elif os.environ.get(DEVICE_ENV):
        where = resolve_device(None, "--device")
    elif options is not None:
        where = resolve_device(options.device, options.device_key)
    else:
        where = resolve_device("auto", "--device")
    if precision is None and options is not None:
        precision = options.train_precision if training and options.train_precision else options.precision
    precision = resolve_precision(precision or "fp32", where)
    if precision == "bf16" and where.type == "cuda":
        import torch

        if not torch.cuda.is_bf16_supported():
            raise InputError(f"--precision bf16: {torch.cuda.get_device_name(where)} ({where}) has no bfloat16 "
                             "arithmetic; use --precision fp32")
    return where, precision


def _threads(threads: int | None, device: torch.device | None = None) -> None:
    """Set up a computing command: its torch threads, the allocator policy of
    :mod:`poseboard.allocator` (large blocks kept after ``free``; results unchanged) and the
    numerics of its device (:func:`poseboard.device.configure`: nothing on the CPU)."""
    import torch

    from poseboard.allocator import keep_freed_memory
    from poseboard.device import configure
    from poseboard.methods.train.loop import env_threads

    keep_freed_memory()
    torch.set_num_threads(threads or env_threads(1))
    if device is not None:
        configure(device)


def pretrain(
    data_dir: DataDirOpt = Path("data"),
    checkpoints: CheckpointsOpt = Path("checkpoints"),
    dataset: Annotated[str, typer.Option("--dataset", help="multi-view dataset to pre-train on: a generated one "
                                                           "or a real one (human36m, panoptic) located by --params")
                       ] = "synth-h36m",
    profile: ProfileOpt = "default",
    config: ConfigOpt = None,
    config_key: ConfigKeyOpt = None,
    seed: SeedOpt = None,
    val: Annotated[bool, typer.Option("--val/--no-val", help="log 2D error curves on the test split")] = True,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    params: ParamsOpt = None,
    init_weights: Annotated[
        Path | None,
        typer.Option("--init-weights", help="start from this checkpoint instead of random weights: torchvision "
                                            "ImageNet ResNet, learnable triangulation's pose_resnet, or a poseboard "
                                            "backbone (docs/pretrained_weights.md); overrides the config's `init`"),
    ] = None,
    init_format: Annotated[
        str, typer.Option("--init-format", help="layout of --init-weights: auto, torchvision, pose_resnet, poseboard")
    ] = "auto",
    init_sha256: Annotated[
        str | None,
        typer.Option("--init-sha256", help="expected SHA-256 of --init-weights (64 hex digits, or a prefix of >= 8)"),
    ] = None,
) -> None:
    """Pre-train the shared 2D backbone on DATASET's train split into CHECKPOINTS/backbone
    (resumable), from random weights or --init-weights."""
    from poseboard.methods.train.pretrain import PretrainConfig, crop_source, pretrain_backbone

    cfg = build_config(PretrainConfig, profile, config, config_key, seed)
    # the backbone block's own precision comes between --precision and the profile's
    on, precision = resolve_run(device, precision if precision is not None else cfg.precision,
                                profile=profile, params_file=params_file_of(params, config))
    _threads(threads, on)
    from poseboard.methods.train.loop import JsonlTracker

    if init_weights is not None or init_format != "auto" or init_sha256 is not None:
        from poseboard.methods.nets.weights_import import init_from_options

        cfg = cfg.model_copy(update={"init": init_from_options(init_weights, init_format, init_sha256)})
    out = checkpoints / "backbone"
    where = {"data_dir": data_dir, "real_data": real_data_params(params), "crop_size": cfg.crop_size}
    train_source = crop_source(dataset, "train", **where)
    val_source = crop_source(dataset, "test", **where) if val else None
    if isinstance(val_source, Path) and not val_source.exists():
        val_source = None
    elif val_source is not None and not isinstance(val_source, Path) and len(val_source) == 0:
        val_source = None
    _, summary = pretrain_backbone(
        cfg, train_source, out, val=val_source,
        tracker=JsonlTracker(out / "metrics.jsonl"), progress=not quiet, device=on, precision=precision,
    )
    from poseboard.methods.train.distributed import is_main_process

    if not is_main_process():  # under torchrun, rank 0 reports (its validation is the one that ran)
        return
    typer.echo(f"pretrain on {on} ({precision}): steps {summary.start_step}→{summary.end_step} in "
               f"{summary.seconds:.0f} s; val {json.dumps(summary.val)} → {out}")


def train(
    method: Annotated[str, typer.Argument(help="a registered method (`poseboard methods`)")],
    data_dir: DataDirOpt = Path("data"),
    checkpoints: CheckpointsOpt = Path("checkpoints"),
    dataset: Annotated[str, typer.Option("--dataset", help="multi-view dataset to train on")] = "synth-h36m",
    profile: ProfileOpt = "default",
    config: ConfigOpt = None,
    config_key: ConfigKeyOpt = None,
    seed: SeedOpt = None,
    val: Annotated[bool, typer.Option("--val/--no-val", help="log validation curves on the test split")] = True,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    name: NameOpt = None,
    params: ParamsOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
    init: Annotated[str, typer.Option("--init", help="what training starts from (params.yaml `init`): backbone, "
                                                     "or a checkpoint under CHECKPOINTS whose weights are taken when "
                                                     "it differs from this config only at inference")] = "backbone",
) -> None:
    """Train METHOD from the pre-trained backbone; saves CHECKPOINTS/NAME (NAME defaults to
    METHOD; resumable from CHECKPOINTS/NAME/work). DATASET is a generated one
    (DATA_DIR/DATASET/train) or a real one (human36m, panoptic) located by --params."""
    on, precision = resolve_run(device, precision, profile=profile, params_file=params_file_of(params, config),
                                training=True)
    _threads(threads, on)
    from poseboard.harness.run import train_method

    summary = train_method(
        method, data_dir=data_dir, checkpoints=checkpoints, dataset=dataset, profile=profile,
        config_path=config, config_key=config_key, seed=seed, val=val, progress=not quiet, name=name,
        real_data=real_data_params(params), device=on, precision=precision, init=init,
    )
    if summary.get("rank") != "not main":  # under torchrun, rank 0 reports
        shown = {k: v for k, v in summary.items() if k != "trained"}  # the full config is in the file
        typer.echo(f"train {name or method} on {on} ({precision}): {json.dumps(shown)} → "
                   f"{checkpoints / (name or method)}")


def check_checkpoint_origin(directory: Path, results: Path) -> None:
    """Where ``poseboard predict``'s checkpoint comes from (issue 70). A board checkpoint
    (``dvc.lock`` records it) that is missing is refused naming the two ways to get it
    (:func:`poseboard.checkpoint_origin.missing_checkpoint`). One whose DVC hash is not the
    board's is another run's weights: refused when the results would land in the board's own
    ``results/`` (what the report ranks as the board), predicted with a warning elsewhere. A DVC
    stage's command (``DVC_STAGE`` set) is making the board and is not checked."""
    from poseboard.checkpoint_origin import checkpoint_stage, in_dvc_stage, missing_checkpoint, origin

    if not (directory / "config.json").exists():
        if checkpoint_stage(directory) is not None:
            raise missing_checkpoint(directory)
        return  # not a board checkpoint: run_protocol says what is missing
    if in_dvc_stage() or (o := origin(directory)) is None or o.is_boards:
        return
    board_results = o.checkpoint.root / "results"
    if Path(os.path.abspath(results)) == board_results:
        raise InputError(f"{o.not_the_boards()}. Its results would overwrite the board's in {board_results} as if "
                         "they were the board's: put the board's checkpoint in place, or write them elsewhere "
                         "(--results FOLDER) and compare them with `poseboard compare`")
    print(f"warning: {o.not_the_boards()}. The results in {results} are that run's, not the board's", file=sys.stderr)


def predict(
    method: Annotated[str, typer.Argument(help="a trained method (CHECKPOINTS/METHOD)")],
    protocol: Annotated[str, typer.Option("--protocol", help="protocol name or name@version")],
    data_dir: DataDirOpt = Path("data"),
    checkpoints: CheckpointsOpt = Path("checkpoints"),
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
    batch_size: Annotated[int, typer.Option("--batch-size", help="samples per forward pass")] = 8,
    seed: Annotated[int, typer.Option("--seed", help="seed of any random choice made at inference")] = 0,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    name: NameOpt = None,
    params: ParamsOpt = None,
    declared_dataset: DeclaredDatasetOpt = None,
    device: DeviceOpt = None,
    precision: PrecisionOpt = None,
) -> None:
    """Run a trained METHOD (CHECKPOINTS/NAME, NAME defaulting to METHOD) under PROTOCOL:
    predictions .npz and the scored result JSON. A real protocol's dataset (human36m-*,
    panoptic-*, mupots-root) is located by --params."""
    on, precision = resolve_run(device, precision, params_file=params_file_of(params))
    _threads(threads, on)
    check_checkpoint_origin(checkpoints / (name or method), results)
    from poseboard.harness.run import run_protocol

    result, path = run_protocol(
        method, protocol, data_dir=data_dir, checkpoints=checkpoints, results_dir=results,
        batch_size=batch_size, seed=seed, progress=not quiet, name=name, real_data=real_data_params(params),
        declared_dataset=declared_dataset, device=on, precision=precision,
    )
    m = result.metrics
    unit = m.units.get(m.headline, "")
    line = f"{result.protocol.id}  {name or method}: {m.headline} = {m.headline_value:.2f} {unit}"
    if m.sweep:
        line += "  sweep: " + ", ".join(f"{k}: {b.overall.get(m.headline, float('nan')):.1f}"
                                        for k, b in m.sweep.items())
    speed = result.speed
    typer.echo(f"{line}  ({speed.samples_per_s:.2f} frames/s on {speed.device})")
    typer.echo(f"wrote {path}")


def evaluate(
    predictions: Annotated[
        Path, typer.Option("--predictions", "-p", help="predictions .npz (format: poseboard.protocols.predictions)")
    ],
    protocol: Annotated[str, typer.Option("--protocol", help="protocol name or name@version")],
    method: Annotated[str, typer.Option("--method", "-m", help="name to file the result under")] = "external",
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder holding the datasets")] = Path("data"),
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="dataset split folder (default: DATA_DIR/DATASET/SPLIT)")
    ] = None,
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
    former_out: Annotated[
        Path | None, typer.Option("--out", "-o", hidden=True, help="the former spelling of --results")
    ] = None,
) -> None:
    """Score a predictions file against a protocol and write the result JSON.

    The file is validated first (shapes, sample ids, finiteness, millimetres); the result
    lands in ``RESULTS/METHOD/PROTOCOL@VERSION.json``. METHOD is 1 to 64 characters of a-z,
    0-9, '.', '_' and '-', starting with a letter or a digit.
    """
    from poseboard.protocols.evaluate import evaluate_predictions_file

    result, path = evaluate_predictions_file(
        predictions, protocol, method=method, data_dir=data_dir, ground_truth=ground_truth,
        results_dir=_results_folder(results, former_out),
    )
    m = result.metrics
    unit = m.units.get(m.headline, "")
    typer.echo(f"{result.protocol.id}  {method}: {m.headline} = {m.headline_value:.2f} {unit} "
               f"over {m.main.num_frames} frames")
    typer.echo(f"wrote {path}")


def _results_folder(results: Path, former_out: Path | None) -> Path:
    """``--results``, or the hidden former spelling ``--out`` when only it was given."""
    if former_out is not None and results != Path("results") and former_out != results:
        raise InputError(f"--results {results} and --out {former_out} (its former spelling) disagree")
    return former_out if former_out is not None else results


def submit(
    predictions: Annotated[
        Path, typer.Argument(help="predictions .npz (format: poseboard.protocols.predictions)")
    ],
    protocol: Annotated[str, typer.Option("--protocol", help="protocol name or name@version")],
    method: Annotated[str, typer.Option("--method", "-m", help="your method's name (a new one, not a registered "
                                                                "method)")],
    card: Annotated[Path, typer.Option("--card", help="method card YAML: title, paper, code_url, trained_on "
                                                      "(docs/submitting.md)")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder holding the datasets")] = Path("data"),
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="dataset split folder (default: DATA_DIR/DATASET/SPLIT)")
    ] = None,
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
) -> None:
    """Submit a result from outside: validate PREDICTIONS and the method card, score them as
    ``evaluate`` does, and write one self-contained result file carrying the card, shown on
    the leaderboard with a "submitted" badge."""
    from poseboard.methods.registry import REGISTRY
    from poseboard.protocols.evaluate import submit_predictions_file

    match = _board_match(protocol, data_dir, ground_truth, results)
    if match is not None:
        typer.echo(match.sentence())
    result, path = submit_predictions_file(
        predictions, protocol, method=method, card=card, data_dir=data_dir, ground_truth=ground_truth,
        results_dir=results, reserved=REGISTRY.names(),
    )
    m = result.metrics
    typer.echo(f"{result.protocol.id}  {method} (submitted): {m.headline} = {m.headline_value:.2f} "
               f"{m.units.get(m.headline, '')} over {m.main.num_frames} frames")
    typer.echo(f"wrote {path}")


def _board_match(protocol: str, data_dir: Path, ground_truth: Path | None, results: Path):  # -> SplitMatch | None
    """The split a protocol will be scored on, held against the task records of the committed
    leaderboard (``results/tasks.json`` at ``HEAD``, else the working tree's); None when the
    split is not a generated one or nothing is recorded."""
    from poseboard.datasets.identity import TASKS_FILE, match_split, read_task_records
    from poseboard.datasets.identity_commands import committed_records
    from poseboard.protocols.registry import get_protocol

    definition = get_protocol(protocol)
    split = ground_truth or data_dir / definition.dataset / definition.split
    if not (Path(split) / "manifest.json").is_file():
        return None
    try:
        records = committed_records(results, "HEAD")
    except PoseboardError:
        records = None
    records = records or read_task_records(results / TASKS_FILE)
    return match_split(split, records) if records is not None else None


def _standalone_app() -> typer.Typer:
    app = command_app(no_args_is_help=True)
    app.command("pretrain")(pretrain)
    app.command("train")(train)
    app.command("predict")(predict)
    return app


if __name__ == "__main__":  # pragma: no cover
    _standalone_app()()
