"""Code fingerprints: one small file that stands, in ``dvc.lock``, for a list of source files.

Why: DVC re-reads (round-trip, in pure Python) and rewrites the whole ``dvc.lock`` after every
stage it runs. With the code each stage runs listed file by file, the lock had 16,000 lines,
most of them the same 30-odd modules repeated in each of 64 ``predict@`` stages (and the
``train@``, ``score@`` and ``generate@`` ones): about 2 s of DVC per stage, 3.5 minutes of a
board run (docs/findings/performance-history-2026-11-24.md, session 10).

So the modules a kind of stage runs are the ``deps`` of one fingerprint stage in ``dvc.yaml``
(``predict_code``, ``train_code``, …), listed there once. That stage runs::

    python -m poseboard.fingerprint predict_code --out fingerprints/predict.json

which writes the SHA-256 of every file those deps name, and every ``predict@`` stage depends on
``fingerprints/predict.json`` instead of on the modules. An edit to a listed module changes
the fingerprint and re-runs the stages, as a direct dependency would; an edit to anything
else re-runs none of them; ``dvc status`` names the edited module under the fingerprint stage.

This module and :mod:`poseboard.io` are deps of the fingerprint stages themselves (a change to
how a fingerprint is written re-writes it), but this module is not part of any fingerprint: it
is not code the stages downstream run. Compiled files (``__pycache__``, ``*.pyc``) are skipped,
as ``.dvcignore`` makes DVC skip them: they differ between machines, not the source.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated

import typer

from poseboard.errors import InputError, command_app

#: The fingerprint stages of ``dvc.yaml`` (tests check the two agree).
STAGES = ("generate_code", "train_code", "predict_code", "score_code")
#: This module's path in the repository: a dep of each fingerprint stage, never fingerprinted.
OWN_PATH = "poseboard/fingerprint.py"
#: What ``.dvcignore`` keeps out of DVC's folder hashes, kept out of fingerprints too.
_SKIPPED_DIRS = {"__pycache__"}
_SKIPPED_SUFFIXES = {".pyc"}

app = command_app(help="Write the SHA-256 of the code a fingerprint stage of dvc.yaml lists.")


def stage_deps(dvc_yaml: str | Path, stage: str) -> list[str]:
    """The ``deps`` of plain stage ``stage`` in ``dvc_yaml``, as written (paths relative to its
    folder). Raises :class:`InputError` naming the file, the stage and the fix."""
    import yaml

    dvc_yaml = Path(dvc_yaml)
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{dvc_yaml}: cannot read it ({exc})") from exc
    if stage not in stages:
        fingerprinting = [name for name, body in stages.items()
                          if "poseboard.fingerprint" in str((body or {}).get("cmd", ""))]
        raise InputError(f"{dvc_yaml}: no stage {stage!r} (its fingerprint stages: "
                         f"{', '.join(fingerprinting) or 'none'})")
    deps = (stages[stage] or {}).get("deps") or []
    templated = [d for d in deps if not isinstance(d, str) or "${" in d]
    if templated:
        raise InputError(f"{dvc_yaml}: stages.{stage}.deps has {templated!r}: a fingerprint stage lists plain paths "
                         "(it is not a foreach stage)")
    if not [d for d in deps if d != OWN_PATH]:
        raise InputError(f"{dvc_yaml}: stages.{stage}.deps lists no code to fingerprint")
    return list(deps)


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*")
                  if p.is_file() and p.suffix not in _SKIPPED_SUFFIXES
                  and not _SKIPPED_DIRS.intersection(p.relative_to(path).parts))


def fingerprint(root: str | Path, paths: list[str]) -> dict[str, str]:
    """``{file: SHA-256 hex}`` of every file ``paths`` name under ``root`` (a folder stands for the
    files in it, compiled ones left out), sorted by path, ``/``-separated; :data:`OWN_PATH` is
    left out. Raises :class:`InputError` for a path that does not exist."""
    root = Path(root)
    missing = [p for p in paths if not (root / p).exists()]
    if missing:
        raise InputError(f"{', '.join(missing)}: not found under {root.resolve()}; a fingerprint stage's deps "
                         "must name existing files or folders (fix dvc.yaml)")
    out: dict[str, str] = {}
    for p in paths:
        if p == OWN_PATH:
            continue
        for file in _files(root / p):
            out[file.relative_to(root).as_posix()] = hashlib.sha256(file.read_bytes()).hexdigest()
    return dict(sorted(out.items()))


@app.command()
def main(
    stage: Annotated[str, typer.Argument(help="the fingerprint stage of dvc.yaml whose deps to hash")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the JSON file to write")],
    dvc_yaml: Annotated[Path, typer.Option("--dvc-yaml", help="the pipeline file (paths are relative to its folder)")]
    = Path("dvc.yaml"),
) -> None:
    """Write ``{"stage": STAGE, "files": {path: sha256}}`` for the code STAGE lists as deps."""
    from poseboard.io import atomic_write_text

    files = fingerprint(dvc_yaml.parent, stage_deps(dvc_yaml, stage))
    atomic_write_text(out, json.dumps({"stage": stage, "files": files}, indent=1) + "\n")
    typer.echo(f"{stage}: {len(files)} files → {out}")


if __name__ == "__main__":
    app()
