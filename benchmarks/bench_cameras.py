"""Speed of building a network input's crop camera, the step every view of every frame a
dataset reads goes through: ``crop_and_resize`` (one camera built and checked) against
``crop(box).resize(size)`` (the intermediate camera too), the same 1,000 boxes in the same run.
Run with ``pytest benchmarks/bench_cameras.py --benchmark-only --benchmark-group-by=group``."""

from __future__ import annotations

import numpy as np
import pytest

from poseboard.camera import Camera

CAMERA = Camera.look_at(eye=[3500.0, 3500.0, 1600.0], target=[0.0, 0.0, 1000.0], focal=1145.0,
                        image_size=(1000, 1000))
_rng = np.random.default_rng(0)
_left_top = _rng.uniform(0, 600, size=(1000, 2))
BOXES = [(x, y, x + s, y + s) for (x, y), s in zip(_left_top, _rng.uniform(150, 400, size=1000), strict=True)]


@pytest.mark.benchmark(group="crop-camera")
@pytest.mark.parametrize("how", ["crop_and_resize", "crop_then_resize"])
def test_crop_camera(benchmark, how):
    if how == "crop_and_resize":
        run = lambda: [CAMERA.crop_and_resize(b, (128, 128)) for b in BOXES]  # noqa: E731
    else:
        run = lambda: [CAMERA.crop(b).resize((128, 128)) for b in BOXES]  # noqa: E731
    cameras = benchmark(run)
    assert len(cameras) == len(BOXES) and cameras[0].image_size == (128, 128)
