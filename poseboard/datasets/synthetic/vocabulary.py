"""The synthetic world's names that ``params.yaml`` validates: its presets and its families of
extra training actions.

Why a module of its own: :mod:`poseboard.params` checks these names for every stage, so every
stage imports them and lists this file among its code (dvc.yaml); the world's configuration
(:mod:`.config`), which only ``generate`` runs, stays out of the training and prediction stages'
code, and an edit to it re-runs only the rendering. :mod:`.config` builds its presets and
training worlds over these names (tests check the two agree).
"""

from __future__ import annotations

from typing import Literal, get_args

#: The synthetic worlds ``SynthConfig.preset`` builds (``docs/synthetic_world.md``, "Presets"): the
#: profiles' (smoke-broad, broad, gpu, default), ``smoke`` (the tests' and ``poseboard generate``'s
#: default) and the two single-lever arms of the broad world (coverage, frames: the pose-coverage figures).
Preset = Literal["smoke", "default", "gpu", "coverage", "frames", "broad", "smoke-broad"]
PRESETS: tuple[str, ...] = get_args(Preset)
#: Families of training actions a training world adds only when asked (``TrainingWorld.extra_actions``;
#: ``profiles.<profile>.data.extra_actions``; ``poseboard generate --actions``): each the module of
#: :mod:`.actions` whose actions :data:`.motion.EXTRA_ACTIONS` lists. A new family is a new name here.
ExtraActions = Literal["exercise"]
EXTRA_ACTIONS: tuple[str, ...] = get_args(ExtraActions)
