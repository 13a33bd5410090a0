"""The training key (poseboard.datasets.training_key): what the weight stages depend on instead of
the image bytes. The same task rendered by the same recipe keeps the committed key whatever its
pixels (another CPU kind); a moved joint, or other pixels from other rendering code, changes it;
an edit that changes no pixel changes the recipe and not the key.

The split is real: the smoke test split rendered by ``poseboard generate`` in a subprocess; the
edits are those of tests/datasets/test_identity.py (one array or one pixel, the manifest's
hashes rewritten as a split rendered that way would have them)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from poseboard.datasets.training_key import (
    DataKey,
    DataRecipe,
    key_path,
    recipe_path,
    write_dataset_key,
)
from poseboard.errors import InputError


def _rewrite(split: Path, rel: str, array: np.ndarray) -> None:
    from poseboard.datasets.storage import MANIFEST, FileEntry, content_hash
    from poseboard.io import sha256_file

    np.save(split / rel, array)
    manifest = json.loads((split / MANIFEST).read_text())
    manifest["files"][rel] = {"bytes": (split / rel).stat().st_size, "sha256": sha256_file(split / rel)}
    manifest["content_hash"] = content_hash({k: FileEntry(**v) for k, v in manifest["files"].items()})
    (split / MANIFEST).write_text(json.dumps(manifest))


def _flip_pixel(dataset: Path) -> None:
    split = dataset / "test"
    images = np.load(split / "images" / "shard_00000.npy")
    images[0, 0, 0, 0, 0] ^= 0x01  # one grey level, as another CPU's kernels round a silhouette pixel
    _rewrite(split, "images/shard_00000.npy", images)


def _move_joint(dataset: Path, mm: float) -> None:
    split = dataset / "test"
    joints = np.load(split / "joints_3d.npy")
    joints[0, 0, 0] += mm
    _rewrite(split, "joints_3d.npy", joints)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The smoke synth-h36m test split (8 samples), rendered once."""
    out = tmp_path_factory.mktemp("training-key")
    cmd = [sys.executable, "-m", "poseboard.cli", "generate", "synth-h36m", "--preset", "smoke", "--split", "test",
           "--test-samples", "8", "--workers", "1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "synth-h36m"


@pytest.fixture
def board(rendered, tmp_path) -> tuple[Path, Path, Path]:
    """A copy of the split, a code fingerprint, and the keys folder after the board's first run."""
    dataset = tmp_path / "data" / "synth-h36m"
    shutil.copytree(rendered, dataset)
    code = tmp_path / "generate.json"
    code.write_text('{"files": {"render.py": "aaaa"}}\n')
    keys = tmp_path / "keys"
    write_dataset_key(dataset, keys, code)
    return dataset, code, keys


def _bytes(keys: Path) -> tuple[bytes, bytes]:
    return key_path(keys, "synth-h36m").read_bytes(), recipe_path(keys, "synth-h36m").read_bytes()


def test_the_first_key_holds_this_renderings_task_and_images(board):
    from poseboard.datasets.identity import split_identity

    dataset, _, keys = board
    key = DataKey.model_validate_json(key_path(keys, "synth-h36m").read_bytes())
    identity = split_identity(dataset / "test")
    assert key.dataset == "synth-h36m" and set(key.splits) == {"test"}
    assert key.splits["test"].task_hash == identity.task_hash
    assert key.splits["test"].images_hash == identity.images_hash
    recipe = DataRecipe.model_validate_json(recipe_path(keys, "synth-h36m").read_bytes())
    assert set(recipe.splits) == {"test"} and len(recipe.splits["test"]) == 64


def test_another_machines_pixels_keep_the_committed_key(board):
    """Same task, same code and parameters, one pixel apart: the key file stays byte for byte,
    so DVC counts the weight stages as up to date."""
    dataset, code, keys = board
    before = _bytes(keys)
    _flip_pixel(dataset)
    write_dataset_key(dataset, keys, code)
    assert _bytes(keys) == before


def test_other_pixels_from_other_code_change_the_key(board):
    """The rendering code changed and so did a pixel: the images hash is this rendering's."""
    from poseboard.datasets.identity import split_identity

    dataset, code, keys = board
    before_key, before_recipe = _bytes(keys)
    _flip_pixel(dataset)
    code.write_text('{"files": {"render.py": "bbbb"}}\n')
    write_dataset_key(dataset, keys, code)
    after_key, after_recipe = _bytes(keys)
    assert after_key != before_key and after_recipe != before_recipe
    key = DataKey.model_validate_json(after_key)
    assert key.splits["test"].images_hash == split_identity(dataset / "test").images_hash


def test_an_edit_that_changes_no_pixel_changes_the_recipe_only(board):
    """A docstring edit in the renderer: the recipe follows the code, the key (what re-trains) does not."""
    dataset, code, keys = board
    before_key, before_recipe = _bytes(keys)
    code.write_text('{"files": {"render.py": "cccc"}}\n')
    write_dataset_key(dataset, keys, code)
    after_key, after_recipe = _bytes(keys)
    assert after_key == before_key and after_recipe != before_recipe


def test_another_task_changes_the_key_whatever_the_recipe(board):
    dataset, code, keys = board
    before = DataKey.model_validate_json(_bytes(keys)[0])
    _move_joint(dataset, 0.01)  # ten micrometres: a real change
    write_dataset_key(dataset, keys, code)
    after = DataKey.model_validate_json(_bytes(keys)[0])
    assert after.splits["test"].task_hash != before.splits["test"].task_hash


def test_a_damaged_key_names_the_file_and_the_fix(board):
    dataset, code, keys = board
    key_path(keys, "synth-h36m").write_text('{"format": 1, "dataset": "synth-h36m", "splits": {"test": 3}}')
    with pytest.raises(InputError, match=r"synth-h36m\.json: not a poseboard data key .*delete it"):
        write_dataset_key(dataset, keys, code)
    key_path(keys, "synth-h36m").write_text('{"format": 9, "dataset": "synth-h36m", "splits": {}}')
    with pytest.raises(InputError, match=r"format 9, this poseboard writes 1"):
        write_dataset_key(dataset, keys, code)


def test_no_rendered_split_is_refused(tmp_path):
    (tmp_path / "synth-h36m").mkdir()
    with pytest.raises(InputError, match="no rendered split"):
        write_dataset_key(tmp_path / "synth-h36m", tmp_path / "keys", tmp_path / "generate.json")
