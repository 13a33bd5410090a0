"""What decides whether weights trained on a rendered dataset are still fresh: its training key.

Why (issue 81): the weight stages (``pretrain_backbone``, ``train@<method>``) used to depend on
``data/<dataset>`` itself, every byte of it. The same dataset rendered on another CPU kind is
the same task with other image bytes (the renderer's torch kernels round differently there;
:mod:`poseboard.datasets.identity`), so DVC counted every weight stage as changed and a pulled
board was re-trained on any machine but the kind that made it. Weights trained on the board's
bytes are the board's answer to that task wherever it is rendered.

So each ``generate@<dataset>`` stage also writes two small committed files, and the weight
stages depend on the first instead of the data:

``fingerprints/data/<dataset>.json`` (the key)
    per split: its task hash (frames, ground truth, cameras; floats quantised) and an images
    hash. The images hash is this machine's (:attr:`~.identity.SplitIdentity.images_hash`)
    unless the committed key already holds the same task rendered by the same recipe: then the
    committed images hash is kept, because the only thing left that can make the pixels differ
    is the machine (its instruction set, its torch build). The key is therefore the same file on
    every machine that renders the board's task with the board's code and parameters.
``fingerprints/data/<dataset>.recipe.json`` (the recipe)
    per split: the SHA-256 of what decides its pixels besides the machine: the rendering code
    (``fingerprints/generate.json``: the SHA-256 of every module ``generate@`` runs) and the
    split's manifest (its configuration, seed, generator and format; not ``input_hashes``, whose
    files' effect on the task (cameras, motion) is in the task hash, and whose own bytes may
    differ by machine). The weight stages do not depend on it, so an edit that changes no pixel
    (a docstring in the renderer) re-trains nothing on the machine kind that made the board.

What it keeps and what it gives up:

* same machine kind, any edit: the images hash is this machine's, so the key changes exactly
  when the task or the pixels change (what depending on ``data/`` gave, less the manifest's
  other bytes);
* another machine kind, the board's code and parameters: the key is the committed one, and the
  pulled weights stay up to date (the predictions and the report still run: they read the pixels);
* another machine kind after an edit of the rendering code: the recipe differs from the
  committed one, so the images hash is this machine's and the weights re-train there. Whether
  the edit changed the pixels cannot be told apart from the machine's rounding without the
  board's machine; re-training is the safe side.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from poseboard.datasets.identity import split_identity
from poseboard.datasets.storage import read_manifest
from poseboard.errors import InputError
from poseboard.io import atomic_write_text, sha256_file

#: Where ``generate@<dataset>`` writes the keys and recipes (committed, like the code fingerprints).
KEY_DIR = "fingerprints/data"
#: The format of both files; another format is refused (a newer poseboard wrote it).
KEY_FORMAT = 1
#: The manifest fields that go into a split's recipe (``input_hashes`` is taken out of ``config``).
_RECIPE_FIELDS = ("name", "split", "kind", "skeleton", "seed", "generator", "format_version", "image_size")


class SplitKey(BaseModel):
    """One split's entry in the key."""

    model_config = ConfigDict(extra="forbid")

    task_hash: str
    images_hash: str


class DataKey(BaseModel):
    """``fingerprints/data/<dataset>.json``: per split, the task and the images it stands for."""

    model_config = ConfigDict(extra="forbid")

    format: int
    dataset: str
    splits: dict[str, SplitKey]


class DataRecipe(BaseModel):
    """``fingerprints/data/<dataset>.recipe.json``: per split, the SHA-256 of its recipe."""

    model_config = ConfigDict(extra="forbid")

    format: int
    dataset: str
    splits: dict[str, str]


def key_path(key_dir: str | Path, dataset: str) -> Path:
    """The key file of ``dataset`` in ``key_dir``."""
    return Path(key_dir) / f"{dataset}.json"


def recipe_path(key_dir: str | Path, dataset: str) -> Path:
    """The recipe file of ``dataset`` in ``key_dir``."""
    return Path(key_dir) / f"{dataset}.recipe.json"


def split_recipe(split_dir: str | Path, code_fingerprint: str | Path) -> str:
    """SHA-256 of what decides the pixels of the split at ``split_dir`` besides the machine: the
    rendering code's fingerprint file (its bytes) and the manifest's recipe fields."""
    manifest = read_manifest(Path(split_dir))
    config = {k: v for k, v in manifest.config.items() if k != "input_hashes"}
    fields: dict[str, Any] = {f: getattr(manifest, f) for f in _RECIPE_FIELDS}
    fields["image_size"] = list(manifest.image_size)
    text = json.dumps({"code": sha256_file(code_fingerprint), "config": config, "manifest": fields}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _read(path: Path, model: type[BaseModel]) -> Any:
    """The committed file at ``path`` (None when absent: a dataset keyed for the first time)."""
    if not path.is_file():
        return None
    try:
        value = model.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError) as exc:
        raise InputError(f"{path}: not a poseboard data key ({str(exc).splitlines()[0]}); delete it, and "
                         "`dvc repro` writes it again (the weight stages that read it then re-train)") from None
    if value.format != KEY_FORMAT:
        raise InputError(f"{path}: format {value.format}, this poseboard writes {KEY_FORMAT}; delete it and run "
                         "`dvc repro` again")
    return value


def dataset_key(dataset_dir: str | Path, code_fingerprint: str | Path,
                committed_key: DataKey | None, committed_recipe: DataRecipe | None) -> tuple[DataKey, DataRecipe]:
    """The key and recipe of the rendered dataset at ``dataset_dir`` (its ``<split>/`` folders),
    keeping a committed split's images hash where the committed key and recipe hold the same task
    rendered by the same recipe (module docstring)."""
    dataset_dir = Path(dataset_dir)
    splits = sorted(p.parent for p in dataset_dir.glob("*/manifest.json"))
    if not splits:
        raise InputError(f"{dataset_dir}: no rendered split (<split>/manifest.json); render it first")
    keys: dict[str, SplitKey] = {}
    recipes: dict[str, str] = {}
    for folder in splits:
        identity = split_identity(folder)
        recipe = split_recipe(folder, code_fingerprint)
        images = identity.images_hash
        before = committed_key.splits.get(folder.name) if committed_key is not None else None
        same_recipe = committed_recipe is not None and committed_recipe.splits.get(folder.name) == recipe
        if before is not None and before.task_hash == identity.task_hash and same_recipe:
            images = before.images_hash  # same task, same recipe: only the machine differs
        keys[folder.name] = SplitKey(task_hash=identity.task_hash, images_hash=images)
        recipes[folder.name] = recipe
    name = dataset_dir.name
    return (DataKey(format=KEY_FORMAT, dataset=name, splits=keys),
            DataRecipe(format=KEY_FORMAT, dataset=name, splits=recipes))


def write_dataset_key(dataset_dir: str | Path, key_dir: str | Path, code_fingerprint: str | Path) -> DataKey:
    """Write ``key_dir/<dataset>.json`` and ``.recipe.json`` for the rendered dataset at
    ``dataset_dir`` (atomically; the files already there are the committed ones it compares with).
    Returns the key."""
    name = Path(dataset_dir).name
    kpath, rpath = key_path(key_dir, name), recipe_path(key_dir, name)
    key, recipe = dataset_key(dataset_dir, code_fingerprint, _read(kpath, DataKey), _read(rpath, DataRecipe))
    kpath.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(kpath, json.dumps(key.model_dump(), indent=1, sort_keys=True) + "\n")
    atomic_write_text(rpath, json.dumps(recipe.model_dump(), indent=1, sort_keys=True) + "\n")
    return key
