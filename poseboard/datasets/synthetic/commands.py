"""``poseboard generate`` and ``poseboard show``: the synthetic world on the command line.

Plain functions with typer annotations; the main CLI registers them
(``app.command("generate")(generate)``, ``app.command("show")(show)``). Heavy modules
(torch, the renderer, matplotlib) are imported inside the function bodies, so importing this
module is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from poseboard.datasets.synthetic.config import DATASET_NAMES, MotionLibrarySpec
from poseboard.datasets.synthetic.vocabulary import EXTRA_ACTIONS, PRESETS
from poseboard.errors import InputError

if TYPE_CHECKING:
    from poseboard.datasets.synthetic.config import SynthConfig

_NAMES_HELP = f"{', '.join(DATASET_NAMES)}, or all"
_PRESET_HELP = f"the synthetic world: {', '.join(PRESETS)} (docs/synthetic_world.md)"
_ACTIONS_HELP = (f"add a family of training actions to synth-h36m's training world: {', '.join(EXTRA_ACTIONS)} "
                 "(repeatable or comma-separated); the test splits do not change")


def with_free_motion(config: SynthConfig, fraction: float | None) -> SynthConfig:
    """``config`` with ``fraction`` of ``synth-h36m``'s training sequences in FreeMotion
    (``TrainingWorld.free_motion``; ``--free-motion``: a training world for an arm, such as a
    backbone pre-trained on another share, docs/findings/novel-motion-error.md). ``None`` keeps the preset's share.
    Only the training split changes; the test splits' bytes do not. (Here, not on
    :class:`SynthConfig`: the pipeline never sets it, so the rendering code's fingerprint stays.)

    Raises:
        InputError: ``fraction`` lies outside [0, 1]; the config has no procedural training world
            to change (a user rig or motion replaces it, or a config without ``h36m.train.world``).

    Example:
        >>> from poseboard.datasets.synthetic.config import SynthConfig
        >>> with_free_motion(SynthConfig.preset("smoke-broad"), 0.7).h36m.train.world.free_motion
        0.7
    """
    if fraction is None:
        return config
    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"--free-motion {fraction}: a fraction of the training sequences, between 0 and 1")
    return config.with_training_world("free_motion", float(fraction), "--free-motion")


def with_real_motion(config: SynthConfig, library: Path | None, fraction: float | None, subjects: list[str],
                     categories: list[str]) -> SynthConfig:
    """``config`` with the real-motion library ``library`` (its ``subjects`` and ``categories``
    never trained on) and ``fraction`` of every training world's sequences driven by it
    (:meth:`~.config.SynthConfig.with_training_world`: synth-h36m's, synth-panoptic's, synth-mupots's).

    Raises:
        InputError: a fraction or held-out names without a library, or a fraction above 0 that
            the config has no procedural training world for.
    """
    if library is None:
        if fraction or subjects or categories:
            raise InputError("--real-motion, --hold-out-subject and --hold-out-category draw from a motion library: "
                             "give it with --motion-library (build one with `poseboard motion library`)")
        return config
    config = config.model_copy(update={"motion_library": MotionLibrarySpec(
        path=library, test_subjects=subjects, novel_categories=categories)})
    return config if not fraction else config.with_training_world("real_motion", float(fraction), "--real-motion")


def generate(
    name: Annotated[str, typer.Argument(help=_NAMES_HELP)] = "synth-h36m",
    preset: Annotated[
        str, typer.Option("--preset", help=_PRESET_HELP)
    ] = "smoke",
    out: Annotated[Path, typer.Option("--out", "-o", help="data folder; writes <out>/<name>/<split>/")] = Path("data"),
    seed: Annotated[int, typer.Option("--seed", help="same seed and preset: byte-identical files")] = 0,
    rig: Annotated[Path | None, typer.Option("--rig", help="rig JSON replacing the built-in cameras")] = None,
    motion: Annotated[Path | None, typer.Option("--motion", help="motion .npz replacing procedural motion")] = None,
    test_subject: Annotated[
        list[str] | None,
        typer.Option("--test-subject", help="with --motion: a subject whose sequences form the test split "
                                            "(repeatable; default S9 and S11)"),
    ] = None,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="train and/or test (repeatable; default both)")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-j", help="rendering processes (0: one per CPU core, at most 8)")
    ] = 0,
    train_samples: Annotated[
        int | None, typer.Option("--train-samples", min=0, help="training frames (MuPoTS-like: images) per dataset, "
                                                                "replacing the preset's; 0 skips the split")
    ] = None,
    train_stride: Annotated[
        int | None, typer.Option("--train-stride", min=1, help="time between training frames, in frames at 50 fps")
    ] = None,
    test_samples: Annotated[
        int | None, typer.Option("--test-samples", min=0, help="test frames (MuPoTS-like: images) per dataset, "
                                                               "replacing the preset's; 0 skips the split")
    ] = None,
    test_stride: Annotated[
        int | None, typer.Option("--test-stride", min=1, help="time between test frames, in frames at 50 fps")
    ] = None,
    free_motion: Annotated[
        float | None, typer.Option("--free-motion", min=0.0, max=1.0,
                                   help="fraction of synth-h36m's training sequences in FreeMotion, replacing the "
                                        "preset's (broad: 0.4); the test splits do not change")
    ] = None,
    actions: Annotated[list[str] | None, typer.Option("--actions", help=_ACTIONS_HELP)] = None,
    motion_library: Annotated[
        Path | None, typer.Option("--motion-library", help="a real-motion library .npz (poseboard motion library) "
                                                           "for --real-motion")
    ] = None,
    real_motion: Annotated[
        float | None, typer.Option("--real-motion", min=0.0, max=1.0,
                                   help="fraction of the training sequences of synth-h36m, synth-panoptic and "
                                        "synth-mupots (the scenes' people) driven by real motion from "
                                        "--motion-library, retargeted onto the worlds' bodies (default 0)")
    ] = None,
    hold_out_subject: Annotated[
        list[str] | None, typer.Option("--hold-out-subject", help="with --motion-library: a library subject never "
                                                                  "trained on (repeatable)")
    ] = None,
    hold_out_category: Annotated[
        list[str] | None, typer.Option("--hold-out-category", help="with --motion-library: a library category never "
                                                                   "trained on (repeatable)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    device: Annotated[
        str, typer.Option("--device", help="where the renderer casts rays: cpu (default; the committed data's "
                                           "bytes), cuda, cuda:N or auto; a GPU renders other bits, recorded in "
                                           "the manifest")
    ] = "cpu",
) -> None:
    """Render a synthetic dataset (multi-view crops or multi-person images) to disk.

    Each split lands in ``<out>/<name>/<split>/`` with a ``manifest.json`` (format version,
    config, seed, counts, content hash); see docs/synthetic_world.md.
    """
    from poseboard.datasets.synthetic.generator import SynthConfig, generate_datasets

    try:
        from poseboard.device import resolve_device

        where = resolve_device(device, "--device")
        names = list(DATASET_NAMES) if name == "all" else [name]
        if (rig is not None) and len(names) > 1:
            raise ValueError("--rig replaces the cameras of one dataset: name it instead of 'all'")
        config = SynthConfig.preset(preset, rig_path=rig, motion_path=motion, test_subjects=test_subject)
        config = config.with_split_sizes("train", samples=train_samples, stride=train_stride)
        config = config.with_split_sizes("test", samples=test_samples, stride=test_stride)
        families = [f.strip() for item in actions or () for f in item.split(",") if f.strip()]
        config = with_free_motion(config, free_motion).with_extra_actions(families)
        config = with_real_motion(config, motion_library, real_motion, hold_out_subject or [], hold_out_category or [])
        reports = generate_datasets(
            names, config, out, seed=seed, splits=split or ("train", "test"), progress=not quiet,
            workers=None if workers <= 0 else workers, device=str(where),
        )
    except ValueError as exc:  # a config the options leave invalid is the user's input too
        raise InputError(str(exc)) from None
    for r in reports:
        typer.echo(
            f"{r.name}/{r.split}: {r.samples} samples × {r.views} views, {r.bytes / 1e6:.1f} MB, "
            f"{r.seconds:.1f} s, joints occluded {100 * r.occluded_fraction:.1f} %, "
            f"outside the frame {100 * r.outside_fraction:.1f} % → {r.path}"
        )


def show(
    path: Annotated[Path, typer.Argument(help="a generated split folder, e.g. data/synth-h36m/test")],
    index: Annotated[int, typer.Argument(help="sample index")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write")] = Path("sample.png"),
) -> None:
    """Draw one sample: its views with 2D joints and boxes, and the 3D skeleton among the cameras."""
    from poseboard.datasets.synthetic.show import show_sample

    try:
        written = show_sample(path, index, out)
    except ValueError as exc:  # a sample index out of range is the user's input too
        raise InputError(str(exc)) from None
    typer.echo(f"wrote {written}")
