"""Shared set-up of the pytest-benchmark suites: collection, threads, the speed-up summary.

* ``bench_*.py`` files are collected from this folder (they are not ``test_*.py``, so the
  test run never picks them up);
* torch runs on one thread: with two OpenMP threads on a loaded 2-core machine, batched
  kernels stall at ~40 ms per call (learnable-triangulation reference notes §6);
* the ``throughput`` fixture records points/s of every benchmark in ``extra_info``, and the
  terminal summary prints, per group, the speed-up of the torch kernel over its loop;
* ``--device auto|cpu|cuda|cuda:N`` and ``--precision fp32|bf16``: where the speed suite
  (``bench_speed.py``) runs, resolved as the pipeline's commands resolve it (the option, else
  ``POSEBOARD_DEVICE``, else the active profile's ``device``/``precision`` of
  ``POSEBOARD_PARAMS``, else ``auto``); a device this machine does not have stops the run
  (exit 2) before anything is measured or written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # a file named on the command line is collected by pytest itself: do not collect it twice
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("poseboard", "poseboard speed suite")
    group.addoption("--device", default=None,
                    help="where bench_speed.py runs: auto (CUDA when available), cpu, cuda or cuda:N (default: "
                         "POSEBOARD_DEVICE, else the active profile's `device` in POSEBOARD_PARAMS, else auto)")
    group.addoption("--precision", default=None,
                    help="fp32 or bf16 (default: the active profile's `precision`, else fp32)")


#: ``(torch.device, precision)`` of the run, resolved once in :func:`pytest_configure`.
RUN_KEY = pytest.StashKey[tuple[torch.device, str]]()


def pytest_configure(config: pytest.Config) -> None:
    import os

    from poseboard.allocator import keep_freed_memory
    from poseboard.errors import PoseboardError
    from poseboard.harness.commands import resolve_run

    keep_freed_memory()  # as the pipeline's commands run (the speed column is measured here)
    torch.set_num_threads(1)
    params = Path(os.environ.get("POSEBOARD_PARAMS", ROOT / "params.yaml"))
    try:
        config.stash[RUN_KEY] = resolve_run(
            config.getoption("--device"), config.getoption("--precision"),
            params_file=params if params.is_file() else None)
    except PoseboardError as exc:  # before a session starts: nothing measured, no JSON written
        pytest.exit(f"error: {exc}", returncode=2)
    from poseboard.device import configure

    configure(config.stash[RUN_KEY][0])  # the pipeline's numerics on CUDA (nothing on the CPU)


@pytest.fixture(scope="session")
def run_device(pytestconfig: pytest.Config) -> tuple[torch.device, str]:
    """``(device, precision)`` the speed suite runs in (``--device``, ``--precision``)."""
    return pytestconfig.stash[RUN_KEY]


# ---------------------------------------------------------------------------- throughput
_RESULTS: dict[str, dict[str, dict[str, Any]]] = {}


class Throughput:
    """Turns a finished benchmark's timings into points/s (median and best round)."""

    def record(self, benchmark: Any, impl: str, n_points: int, **extra: Any) -> None:
        stats = benchmark.stats.stats
        info = {
            "impl": impl,
            "points_per_call": n_points,
            "points_per_s_median": n_points / stats.median,
            "points_per_s_best": n_points / stats.min,
            **extra,
        }
        benchmark.extra_info.update(info)
        _RESULTS.setdefault(benchmark.group, {})[impl] = info


@pytest.fixture(scope="session")
def throughput() -> Iterator[Throughput]:
    yield Throughput()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("speed-up over the per-point loops (points/s, 1 torch thread)")
    write(f"{'group':<28}{'torch pts/s':>14}{'loop pts/s':>13}{'ratio (median)':>16}{'(best)':>9}")
    for group, impls in sorted(_RESULTS.items()):
        fast, loop = impls.get("torch"), impls.get("loop")
        if fast is None or loop is None:
            continue
        # the CPU kernel's row, then one row per accelerator it also ran on (torch-cuda, ...)
        for impl in sorted(i for i in impls if i.startswith("torch")):
            info = impls[impl]
            med = info["points_per_s_median"] / loop["points_per_s_median"]
            best = info["points_per_s_best"] / loop["points_per_s_best"]
            label = group if impl == "torch" else f"  {impl.removeprefix('torch-')}"
            write(
                f"{label:<28}{info['points_per_s_median']:>14,.0f}{loop['points_per_s_median']:>13,.0f}"
                f"{med:>15.0f}×{best:>8.0f}×"
            )
        for impl, info in (("torch", fast), ("loop", loop)):
            if "note" in info:
                write(f"    {impl}: {info['note']}")
        for key in ("mean_error_mm", "median_error_mm"):
            if key in loop or key in fast:
                write(f"    {key}: torch {fast.get(key, '-')}, loop {loop.get(key, '-')}")
