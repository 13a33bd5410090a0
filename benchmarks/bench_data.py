"""Speed of two steps the tests used to time with a wall-clock bound (which failed on a loaded
machine and measured nothing on an idle one): the procedural motion of a whole cast, and the
sequence bootstrap behind every interval of the leaderboard, the latter against a per-resample
loop in the same run. Run with
``pytest benchmarks/bench_data.py --benchmark-only --benchmark-group-by=group``."""

from __future__ import annotations

import numpy as np
import pytest

from poseboard.datasets.synthetic.motion import generate_motion_set
from poseboard.protocols.aggregate import bootstrap_ci

_rng = np.random.default_rng(2)
ERRORS = _rng.gamma(3.0, 10.0, size=2000)  # 100 sequences of 20 frames
SEQUENCES = np.repeat(np.arange(100), 20)


@pytest.mark.benchmark(group="motion 5 subjects x every action x 500 frames")
def test_motion_generation(benchmark):
    sequences = benchmark(generate_motion_set, ["S1", "S5", "S6", "S7", "S8"], None, 1, 500, seed=0)
    assert len(sequences) % 5 == 0 and all(s.poses.shape == (500, 17, 3) for s in sequences)


def _loop_bootstrap(errors: np.ndarray, sequences: np.ndarray, n_resamples: int) -> tuple[float, float, float]:
    """The same percentile interval written plainly, one resample of whole sequences at a time;
    ``(low, high, point)`` as :func:`bootstrap_ci` returns it."""
    rng = np.random.default_rng(0)
    ids = np.unique(sequences)
    frames = [errors[sequences == i] for i in ids]
    means = []
    for _ in range(n_resamples):
        drawn = rng.integers(0, len(ids), len(ids))
        means.append(np.concatenate([frames[k] for k in drawn]).mean())
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi), float(errors.mean())


@pytest.mark.benchmark(group="bootstrap 100 sequences x 1000 resamples")
@pytest.mark.parametrize("how", ["poseboard", "loop"])
def test_sequence_bootstrap(benchmark, how):
    if how == "poseboard":
        lo, hi, mean = benchmark(bootstrap_ci, ERRORS, SEQUENCES, n_resamples=1000)
    else:
        lo, hi, mean = benchmark(_loop_bootstrap, ERRORS, SEQUENCES, 1000)
    assert lo < mean < hi and hi - lo < 5.0  # the same interval to within the resampling noise
