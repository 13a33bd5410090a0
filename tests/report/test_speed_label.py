"""The leaderboard's speed column names where the benchmark suite measured: the CPU's brand and
threads, or the GPU's model, CUDA version and precision."""

from __future__ import annotations

import json

from poseboard.report.model import read_speed_benchmarks


def _suite(tmp_path, device: str):
    data = {"machine_info": {"cpu": {"brand_raw": "AMD EPYC 9R14"}},
            "benchmarks": [{"stats": {"rounds": 5},
                            "extra_info": {"method": "algebraic", "ms_per_frame": 12.5, "frames_per_call": 8,
                                           "torch_threads": 2, "device": device}}]}
    path = tmp_path / "benchmarks.json"
    path.write_text(json.dumps(data))
    return read_speed_benchmarks(path)


def test_cpu_timings_name_the_cpu_and_its_threads(tmp_path):
    ms, where = _suite(tmp_path, "cpu (2 torch threads)")["algebraic"]
    assert ms == 12.5
    assert where == "AMD EPYC 9R14, 2 torch thread(s): median of 5 rounds of 8 frames (benchmarks/bench_speed.py)"


def test_gpu_timings_name_the_gpu_cuda_and_precision(tmp_path):
    _, where = _suite(tmp_path, "NVIDIA H100 80GB HBM3 (CUDA 13.0, bf16)")["algebraic"]
    assert where.startswith("NVIDIA H100 80GB HBM3 (CUDA 13.0, bf16), host AMD EPYC 9R14: median of 5 rounds")
