"""Which Bandai Namco clips the board trains on and which it holds out (issue 79), decided by
name before any training and recorded with every clip of the library (its ``role``).

Four roles, first match wins:

* ``novel-content`` (:data:`NOVEL_CONTENTS`): kinds of motion never trained on. Dataset 1's
  fighting and dancing (kick, punch, slash, dance-short, dance-long) and its other motions that
  dataset 2 never shows (bow, call, respond): 3.4 minutes of motion, every style.
* ``novel-style`` (:data:`NOVEL_STYLES`): manners never trained on, in every content: dataset 1's
  old, feminine and childish, dataset 2's elderly and feminine (old age and femininity are then
  new to the training world in both datasets).
* ``test-take``: the in-distribution test's takes. Of every content × style cell that trains
  with at least two takes, every :data:`TEST_TAKE_EVERY` th take in take order (the 10th, 20th,
  …), or the last when the cell has fewer than that many: the test sees each trained motion and
  manner, performed in a take training never saw.
* ``train``: the rest.

A split rendered for the board's test draws from its role only; a training world draws from
``train`` only (:func:`poseboard.datasets.synthetic.casting.training_clips`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from poseboard.datasets.mocap.bandai import BandaiClip

TRAIN = "train"
TEST_TAKE = "test-take"
NOVEL_CONTENT = "novel-content"
NOVEL_STYLE = "novel-style"
ROLES = (TRAIN, TEST_TAKE, NOVEL_CONTENT, NOVEL_STYLE)

#: dataset → contents never trained on
NOVEL_CONTENTS: dict[str, tuple[str, ...]] = {
    "1": ("kick", "punch", "slash", "dance-short", "dance-long", "bow", "call", "respond"),
    "2": (),
}
#: dataset → styles never trained on
NOVEL_STYLES: dict[str, tuple[str, ...]] = {
    "1": ("old", "feminine", "childish"),
    "2": ("elderly", "feminine"),
}
#: of a trained content × style cell, every this-many-th take is the in-distribution test's
TEST_TAKE_EVERY = 10


def roles(clips: Iterable[BandaiClip]) -> dict[BandaiClip, str]:
    """Each clip's role (module docstring). A cell's test takes are chosen among the clips
    given, so the full dataset's split is decided from all 3,076 names at once; a subset (the
    smoke profile's handful) is given its roles by :func:`roles` of the whole list first."""
    out: dict[BandaiClip, str] = {}
    cells: dict[tuple[str, str, str], list[BandaiClip]] = defaultdict(list)
    for clip in sorted(set(clips)):
        if clip.content in NOVEL_CONTENTS[clip.dataset]:
            out[clip] = NOVEL_CONTENT
        elif clip.style in NOVEL_STYLES[clip.dataset]:
            out[clip] = NOVEL_STYLE
        else:
            cells[(clip.dataset, clip.content, clip.style)].append(clip)
    for takes in cells.values():
        takes.sort(key=lambda c: int(c.take))
        held = set(takes[TEST_TAKE_EVERY - 1::TEST_TAKE_EVERY])
        if not held and len(takes) >= 2:
            held = {takes[-1]}
        out.update({c: TEST_TAKE if c in held else TRAIN for c in takes})
    return out


def split_table() -> dict[str, object]:
    """The split's rules, as the library's manifest records them."""
    return {"novel_contents": {d: list(v) for d, v in NOVEL_CONTENTS.items()},
            "novel_styles": {d: list(v) for d, v in NOVEL_STYLES.items()},
            "test_take_every": TEST_TAKE_EVERY,
            "test_take_rule": f"of every trained content x style cell, every {TEST_TAKE_EVERY}th take in take order, "
                              "or the last when the cell has 2 to 9 takes; a cell of one take trains",
            "roles": list(ROLES)}
