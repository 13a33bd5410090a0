"""Stage commands that need the *active profile* of ``params.yaml`` resolved.

``dvc.yaml`` cannot look up ``profiles.${profile}.data.preset`` (DVC does not nest
interpolations), so the stages whose arguments depend on the profile run through here::

    python -m poseboard.pipeline generate --params params.yaml --out data

Each command validates ``params.yaml`` first (a typo stops the stage, naming the key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError, PoseboardError, command_app

app = command_app(no_args_is_help=True, help="Pipeline stages driven by params.yaml's active profile.")


@app.command("generate")
def generate_stage(
    params_file: Annotated[Path, typer.Option("--params", help="the parameters file")] = Path("params.yaml"),
    out: Annotated[Path, typer.Option("--out", "-o", help="data folder")] = Path("data"),
    workers: Annotated[int, typer.Option("--workers", "-j", help="rendering processes (0: per core, ≤ 8)")] = 0,
    dataset: Annotated[list[str] | None, typer.Option(
        "--dataset", help="render only this dataset (repeatable; one of the profile's `data.datasets`): dvc.yaml's "
                          "generate@<dataset> stages render one each")] = None,
    motion_library: Annotated[Path, typer.Option(
        "--motion-library", help="the motion library the profile's `data.real_motion` share draws from (the "
                                 "motion_library stage's output)")] = Path("data/motion/bandai.npz"),
    keys: Annotated[Path | None, typer.Option(
        "--keys", help="also write each rendered dataset's training key and recipe here (dvc.yaml: "
                       "fingerprints/data; what the weight stages depend on instead of the image bytes)")] = None,
    code_fingerprint: Annotated[Path, typer.Option(
        "--code-fingerprint", help="the rendering code's fingerprint (the generate_code stage's output), part of "
                                   "each split's recipe")] = Path("fingerprints/generate.json"),
) -> None:
    """Render the synthetic datasets of the active profile (``profiles.<profile>.data``), or the
    ``--dataset`` ones only (each dataset's bytes do not depend on which others are rendered).
    Large freed blocks stay in the process and its render workers (:mod:`poseboard.allocator`;
    the bytes are the same). With ``--keys``, each dataset's training key
    (:mod:`poseboard.datasets.training_key`: its task and, for the board's code and parameters, the
    board's images hash) is written beside the data, so that weights trained on the board's
    rendering stay fresh where the same task renders with other image bytes."""
    from poseboard.allocator import keep_freed_memory
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets
    from poseboard.params import load_params

    keep_freed_memory()
    try:
        params = load_params(params_file)
        data = params.active.data
        names = list(data.datasets)
        if dataset:
            unknown = [d for d in dataset if d not in names]
            if unknown:
                raise PoseboardError(f"{params_file}: profiles.{params.profile}.data.datasets does not list "
                                     f"{', '.join(unknown)} (it lists {', '.join(names)}); add it there, or "
                                     "leave its generate@ stage out of `dvc repro`")
            names = [d for d in names if d in dataset]
        overrides = {} if data.crop_size is None else {"crop_size": data.crop_size}
        config = SynthConfig.preset(data.preset, **overrides)
        config = config.with_split_sizes("train", samples=data.train_samples)
        config = config.with_split_sizes("test", samples=data.test_samples)
        config = config.with_extra_actions(data.extra_actions)
        from poseboard.datasets.synthetic.config import REAL_SPLIT_ROLES, MotionLibrarySpec

        library = config.model_copy(update={"motion_library": MotionLibrarySpec(path=motion_library)})
        if data.real_motion > 0 or data.real_test > 0:  # held-out roles never train (casting.training_clips)
            config = library
        if data.real_motion > 0:
            config = config.with_training_world("real_motion", data.real_motion,
                                                f"profiles.{params.profile}.data.real_motion")
        if data.real_test > 0:
            config = config.with_test_real_motion(data.real_test)
        # the real-people splits read the library; the others record it only when a share draws from it,
        # so that a profile with no share renders them byte for byte as before the library existed
        real = [n for n in names if n in REAL_SPLIT_ROLES]
        plain = [n for n in names if n not in REAL_SPLIT_ROLES]
        reports = []
        for group, group_config in ((plain, config), (real, config if config.motion_library else library)):
            if group:
                reports += generate_datasets(group, group_config, out, seed=params.seed, progress=False,
                                             workers=None if workers <= 0 else workers)
    except ValueError as exc:  # a config the preset's overrides leave invalid is the user's input too
        raise InputError(str(exc)) from None
    for r in reports:
        typer.echo(f"{r.name}/{r.split}: {r.samples} samples, {r.bytes / 1e6:.1f} MB, {r.seconds:.1f} s → {r.path}")
    if keys is not None:
        from poseboard.datasets.training_key import write_dataset_key

        for name in names:
            key = write_dataset_key(out / name, keys, code_fingerprint)
            kept = ", ".join(f"{split} task {k.task_hash[:12]} images {k.images_hash[:12]}"
                             for split, k in key.splits.items())
            typer.echo(f"{name}: training key {kept} → {keys / (name + '.json')}")


#: the variable that, when set, replaces ``motion_library.archive`` (a copy elsewhere, a test's checkout)
ARCHIVE_VARIABLE = "POSEBOARD_MOTION_ARCHIVE"


@app.command("motion-library")
def motion_library_stage(
    params_file: Annotated[Path, typer.Option("--params", help="the parameters file")] = Path("params.yaml"),
    out: Annotated[Path, typer.Option("--out", "-o", help="the library's folder")] = Path("data/motion"),
) -> None:
    """Build the real-motion library of the active profile (the ``motion_library`` stage): check the
    Bandai Namco archive's SHA-256 (``motion_library.archive``, or the POSEBOARD_MOTION_ARCHIVE
    variable), unpack it inside OUT, build OUT/bandai.npz and its manifest, remove the unpacked
    files. A missing or altered archive exits with status 2 and writes nothing."""
    import os

    from poseboard.datasets.mocap.bandai_archive import build_from_archive
    from poseboard.params import load_params

    params = load_params(params_file)
    spec = params.motion_library
    if spec is None:
        raise InputError(f"{params_file}: no `motion_library` block (the archive's path and SHA-256)")
    profile = spec.profiles.get(params.profile)
    archive = Path(os.environ.get(ARCHIVE_VARIABLE) or spec.archive)
    manifest = build_from_archive(archive, out, sha256=spec.sha256,
                                  clips_per_role=None if profile is None else profile.clips_per_role)
    totals = manifest["totals"]
    roles = ", ".join(f"{role} {v['clips']} ({v['seconds'] / 60:.1f} min)" for role, v in totals["by_role"].items())
    typer.echo(f"{out / manifest['npz']['file']}: {totals['clips_kept']} clips of {totals['files']} files, "
               f"{totals['hours']:.2f} h, {manifest['npz']['bytes'] / 1e6:.1f} MB; {roles}; dropped "
               f"{totals['dropped_by_rule'] or 'none'}")


NO_INIT_NOTE = """# No initial weights

Methods whose `params.yaml` block says `init: none` start from their own initialisation: no
pre-trained backbone, no other method's checkpoint. This folder is the `no_init` stage's output,
so that their `train@` stage has an `init` dependency like every other (dvc.yaml) without
depending on `pretrain_backbone`.
"""


@app.command("no-init")
def no_init_stage(
    out: Annotated[Path, typer.Option("--out", "-o", help="the folder to write")] = Path("checkpoints/none"),
) -> None:
    """Write the ``init: none`` marker folder (the ``no_init`` stage: what such a method starts from)."""
    from poseboard.io import atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "README.md", NO_INIT_NOTE)
    typer.echo(f"wrote {out / 'README.md'}")


@app.command("score")
def score_stage(
    method: Annotated[str, typer.Argument(help="the method (or variant) whose predictions are scored")],
    protocol: Annotated[str, typer.Option("--protocol", help="the protocol to score under, name@version")],
    predictions: Annotated[str, typer.Option(
        "--predictions", help="the protocol (name@version) whose run wrote the predictions")],
    results: Annotated[Path, typer.Option("--results", "-r", help="results folder")] = Path("results"),
    data_dir: Annotated[Path, typer.Option("--data-dir", help="generated datasets folder")] = Path("data"),
    params_file: Annotated[Path | None, typer.Option(
        "--params", help="params.yaml whose real_data block locates real datasets (default: ./params.yaml)")] = None,
    declared_dataset: Annotated[str | None, typer.Option(
        "--declared-dataset", help="the dataset folder the calling DVC stage depends on (params.yaml: the "
                                   "score's `dataset`); refused if the protocol reads another")] = None,
) -> None:
    """Score RESULTS/METHOD/PREDICTIONS.npz under PROTOCOL, whose inputs must be the same
    (e.g. absolute MPJPE from the relative protocol's run): no second inference."""
    from poseboard.harness.commands import real_data_params
    from poseboard.harness.rescore import rescore
    from poseboard.protocols.results import result_path

    result, path = rescore(result_path(results, method, predictions), protocol, data_dir=data_dir,
                           results_dir=results, real_data=real_data_params(params_file),
                           declared_dataset=declared_dataset)
    m = result.metrics
    typer.echo(f"{result.protocol.id}  {method}: {m.headline} = {m.headline_value:.2f} "
               f"{m.units.get(m.headline, '')} (from {predictions}) → {path}")


@app.command("identify")
def identify_stage(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="generated datasets folder")] = Path("data"),
    out: Annotated[Path, typer.Option("--out", "-o", help="the task records file")] = Path("results/tasks.json"),
) -> None:
    """Record the content, task and image hashes of every generated split (``results/tasks.json``,
    committed with the results: what ``poseboard data check`` and the comparisons match against)."""
    from poseboard.datasets.identity import generated_splits, task_records, write_task_records

    records = task_records(generated_splits(data_dir))
    write_task_records(records, out)
    for key, r in sorted(records.splits.items()):
        typer.echo(f"{key}: task {r.task_hash[:12]}, images {r.images_hash[:12]} ({r.samples} samples)")


def _mount() -> None:
    from poseboard.report.commands import report
    from poseboard.tracking.commands import track

    app.command("report")(report)
    app.command("track")(track)


@app.command("check")
def check_stage(
    params_file: Annotated[Path, typer.Option("--params", help="the parameters file")] = Path("params.yaml"),
    shallow: Annotated[
        bool, typer.Option("--shallow", help="skip importing the methods (no config_model / capability checks)")
    ] = False,
) -> None:
    """Validate params.yaml: keys and types, protocols, registered methods, each method's config."""
    from poseboard.params import check_params, load_params

    params = load_params(params_file)
    problems = check_params(params, deep=not shallow, where=str(params_file))
    if problems:
        raise InputError("\n".join(problems))
    typer.echo(
        f"{params_file}: ok — profile {params.profile}, {len(params.methods)} method(s), "
        f"{len(params.evaluations)} evaluation(s)"
    )


#: ``poseboard params check`` (the CLI mounts it): the same check as the pipeline's ``check``.
params_app = command_app(no_args_is_help=True, help="Validate params.yaml.")
params_app.command("check")(check_stage)

_mount()

if __name__ == "__main__":  # pragma: no cover
    app()
