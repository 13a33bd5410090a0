"""Other profiles' leaderboards beside the active one: ``poseboard publish`` and the report's switch.

The pipeline writes ``results/`` for the profile ``params.yaml`` makes active (the CPU
``default`` here). A run of another profile (``gpu`` on a GPU machine, in its own clone) is
*published* into this checkout so that its leaderboard is committed beside the default's::

    published/<profile>/profile.json          what ran: profile, description, device, hardware, commits
    published/<profile>/results/…             its result files (+ run sidecars, seed_spread.json), no predictions
    published/<profile>/speed.json            its speed suite's benchmark JSON, when it ran

The ``report`` stage then writes one page per published profile (``report/profiles/<profile>/``,
with its own paper tables and figures) next to ``report/index.html``, and every page carries a
switch between them that names each profile's device. Nothing here trains or scores: a
published folder holds the files another run wrote, checked as every result file is checked.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from poseboard.comparison.seed_spread import SEED_SPREAD_FILE
from poseboard.errors import InputError, validation_message
from poseboard.names import check_name, path_inside
from poseboard.protocols.results import Result, is_result_file, read_results, run_sidecar

__all__ = [
    "PROFILE_FILE",
    "ProfilePage",
    "PublishedProfile",
    "device_label",
    "publish_profile",
    "read_published",
]

#: What a published folder's ``profile.json`` is called.
PROFILE_FILE = "profile.json"
#: Where a run's benchmark JSON lands inside its published folder.
SPEED_FILE = "speed.json"
_SCHEMA_VERSION = 1


class PublishedProfile(BaseModel):
    """``published/<profile>/profile.json``: where a published leaderboard came from."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = _SCHEMA_VERSION
    profile: str = Field(description="the profile the run was made under (params.yaml `profile`)")
    description: str = Field(description="that profile's `description`")
    device: str = Field(description="the profile's `device` key (auto, cpu, cuda, cuda:N)")
    precision: str = Field(description="the profile's `precision` key")
    train_precision: str | None = Field(default=None, description="the profile's `train_precision` key (what "
                                        "the methods trained in; None: `precision`)")
    hardware: list[str] = Field(description="what the predictions ran on, as the result files name it "
                                            "(e.g. 'NVIDIA H100 80GB HBM3 (CUDA 13.0, fp32)'); empty when not recorded")
    commits: list[str] = Field(description="git commits the result files were made at")
    num_results: int = Field(ge=1)
    published_at: str = Field(description="UTC time of `poseboard publish`")


@dataclass(frozen=True)
class ProfilePage:
    """One leaderboard page: a profile, where its result files are, and where its page goes."""

    profile: str
    description: str
    device: str
    results_dir: Path
    speed_file: Path | None
    #: the page's folder relative to the report root ('' for the active profile's index.html)
    folder: str

    def href_from(self, other: ProfilePage) -> str:
        """The link from ``other``'s page to this one (pages sit at most two folders deep)."""
        up = "../" * (0 if not other.folder else other.folder.count("/") + 1)
        return f"{up}{self.folder + '/' if self.folder else ''}index.html"


def device_label(results: list[Result], fallback: str) -> str:
    """What a set of results ran on, from their run sidecars (``speed.device``), e.g.
    ``cpu (2 torch threads)``; ``fallback`` (the profile's ``device`` key) when none recorded it."""
    devices = sorted({r.speed.device for r in results if r.speed.device})
    return "; ".join(devices) if devices else f"device {fallback} (not recorded in the result files)"


def _published_meta(folder: Path) -> PublishedProfile:
    path = folder / PROFILE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{folder}: no {PROFILE_FILE}; a published profile is written by "
                         "`poseboard publish`") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    try:
        meta = PublishedProfile.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {validation_message(exc)}; re-run `poseboard publish`") from None
    if meta.profile != folder.name:
        raise InputError(f"{path}: field 'profile' is {meta.profile!r} but the folder is {folder.name!r}; "
                         "re-run `poseboard publish` rather than renaming published folders")
    return meta


def read_published(root: str | Path) -> list[tuple[PublishedProfile, Path]]:
    """Every published profile under ``root`` (``published/``), sorted by name: its
    ``profile.json`` and its folder. A folder whose name breaks the name rule, or that
    resolves outside ``root`` (a symlink), is an error, not skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        check_name(folder.name, f"{root}/{folder.name}: published profile folder")
        path_inside(root, folder.name)
        found.append((_published_meta(folder), folder))
    return found


def _copy_run(source_results: Path, staging: Path) -> None:
    """Result files with their run sidecars and seed spreads, keeping the folder layout
    (``<method>/…``, ``seed-<k>/<method>/…``); predictions (``.npz``) stay behind."""
    base = source_results.resolve()
    for path in sorted(source_results.rglob("*.json")):
        if not (is_result_file(path) or path.name == SEED_SPREAD_FILE):
            continue
        for item in (path, run_sidecar(path)) if is_result_file(path) else (path,):
            if not item.exists():
                continue
            if item.is_symlink() or not item.resolve().is_relative_to(base):
                raise InputError(f"{item}: a link out of {source_results}; publish real files only")
            target = staging / "results" / item.relative_to(source_results)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(item, target)


def publish_profile(source: str | Path, dest_root: str | Path = "published", *, profile: str | None = None,
                    active_profile: str | None = None) -> tuple[PublishedProfile, Path]:
    """Copy the leaderboard of the run in checkout ``source`` into ``dest_root/<profile>/``.

    ``source`` is a poseboard checkout where ``dvc repro`` ran: its ``params.yaml`` names the
    profile (``profile`` must agree when given), its ``results/`` holds the result files (all
    are read and validated first), ``speed/benchmarks.json`` the speed suite. The profile this
    checkout makes active (``active_profile``) is refused: its page is ``report/index.html``,
    made from ``results/``. The folder is written beside the old one and swapped in, so a
    failure leaves the previous publication as it was.
    """
    from poseboard.params import load_params

    source, dest_root = Path(source), Path(dest_root)
    params_file = source / "params.yaml"
    if not params_file.is_file():
        raise InputError(f"{source}: no params.yaml; give the checkout where the other profile's `dvc repro` ran")
    params = load_params(params_file)
    if profile is not None and profile != params.profile:
        raise InputError(f"--profile: {profile!r}, but {params_file} ran profile {params.profile!r}; "
                         "publish a checkout of that profile, or leave --profile out")
    name = check_name(params.profile, f"{params_file}: profile")
    if active_profile is not None and name == active_profile:
        raise InputError(f"{params_file}: profile {name!r} is this checkout's active profile, whose leaderboard is "
                         "report/index.html from results/; publish another profile's run")
    source_results = source / "results"
    results = read_results(source_results) if source_results.is_dir() else []
    if not results:
        raise InputError(f"{source_results}: no result files; run `dvc repro` there first")
    active = params.profiles[name]
    meta = PublishedProfile(
        profile=name, description=active.description, device=active.device, precision=active.precision,
        train_precision=active.train_precision,
        hardware=sorted({r.speed.device for r in results if r.speed.device}),
        commits=sorted({str(r.git["commit"]) for r in results if r.git.get("commit")}),
        num_results=len(results), published_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    dest_root.mkdir(parents=True, exist_ok=True)
    dest = path_inside(dest_root, name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=dest_root))
    try:
        _copy_run(source_results, staging)
        speed = source / "speed" / "benchmarks.json"
        if speed.is_file():
            json.loads(speed.read_text())  # refuse a broken file now, not when the report reads it
            shutil.copyfile(speed, staging / SPEED_FILE)
        (staging / PROFILE_FILE).write_text(meta.model_dump_json(indent=2) + "\n")
        read_results(staging / "results")  # what was copied reads back
        old = dest.with_name(f".{name}.old")
        if dest.exists():
            shutil.rmtree(old, ignore_errors=True)
            dest.rename(old)
        staging.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for path in [dest, *dest.rglob("*")]:  # committed and served: readable like any checked-out file
        path.chmod(0o755 if path.is_dir() else 0o644)
    return meta, dest


def pages(results_dir: Path, speed_file: Path | None, active_profile: str, active_description: str,
          active_device: str, published_root: Path | None) -> list[ProfilePage]:
    """The active profile's page (``report/index.html``) first, then one per published profile."""
    found = [ProfilePage(active_profile, active_description, active_device, results_dir, speed_file, "")]
    for meta, folder in read_published(published_root) if published_root is not None else []:
        if meta.profile == active_profile:
            raise InputError(f"{folder}: profile {meta.profile!r} is the active profile, whose page comes from "
                             f"{results_dir}; remove the published copy or switch `profile` in params.yaml")
        speed = folder / SPEED_FILE
        found.append(ProfilePage(meta.profile, meta.description, meta.device, folder / "results",
                                 speed if speed.is_file() else None, f"profiles/{meta.profile}"))
    return found
