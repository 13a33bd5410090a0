"""Run ``dvc repro`` and record each stage's wall time, GPU utilisation and peak GPU memory.

    python scripts/timed_repro.py [--out stage_times.json] [-- DVC REPRO ARGS ...]

Stage boundaries come from DVC's own output (``Running stage 'NAME':``, ``Stage 'NAME' is
cached - skipping run``, ``Stage 'NAME' didn't change, skipping``): a stage runs from its line
to the next one (or the end), DVC's saving of its outputs included. Where ``nvidia-smi`` exists
it is sampled once a second in the background, and each sample is attributed to the stage
running at that moment: the JSON gives, per stage, the mean utilisation and the peak memory of
GPU 0 over its samples. The output is merged with an existing file of the same name, so a run
made in several steps of at most 10 minutes (DVC resumes from finished stages) keeps every
step's stages. At the end it prints a table of this run's stages and times (``make repro``
shows it), also after an interruption (Ctrl-C: DVC stops, and the table shows what ran). The
exit code is DVC's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

STAGE_LINE = re.compile(r"Running stage '([^']+)'")
CACHED_LINE = re.compile(r"Stage '([^']+)' is cached - skipping run")
SKIPPED_LINE = re.compile(r"'([^']+)' didn't change, skipping")


def _sample_gpu(samples: list[tuple[float, float, float]], stop: threading.Event) -> None:
    """(time, utilisation %, memory MiB) of GPU 0, once a second until ``stop``."""
    proc = subprocess.Popen(
        ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits", "-i", "0",
         "-lms", "1000"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and all(p.replace(".", "").isdigit() for p in parts):
                samples.append((time.time(), float(parts[0]), float(parts[1])))
            if stop.is_set():
                break
    finally:
        proc.terminate()


def run(dvc_args: list[str], out: Path, cwd: Path = Path(".")) -> int:
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")  # stages run `python -m ...` from PATH
    dvc = shutil.which("dvc", path=env["PATH"]) or "dvc"
    samples: list[tuple[float, float, float]] = []
    stop = threading.Event()
    sampler = None
    if shutil.which("nvidia-smi"):
        sampler = threading.Thread(target=_sample_gpu, args=(samples, stop), daemon=True)
        sampler.start()
    starts: list[tuple[str, float]] = []  # every boundary: a stage run, restored from the run cache or skipped
    cached: set[str] = set()
    skipped: list[str] = []
    t0 = time.time()
    proc = subprocess.Popen([dvc, "repro", *dvc_args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if m := STAGE_LINE.search(line):
                starts.append((m.group(1), time.time()))
            elif m := CACHED_LINE.search(line):
                starts.append((m.group(1), time.time()))
                cached.add(m.group(1))
            elif m := SKIPPED_LINE.search(line):
                starts.append((m.group(1), time.time()))
                skipped.append(m.group(1))
        code = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached DVC too (same process group): let it stop
        try:
            code = proc.wait(timeout=60)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.kill()
            code = proc.wait()
        code = code or 130
    end = time.time()
    stop.set()
    stages: dict[str, dict[str, float | int | None]] = {}
    for i, (name, start) in enumerate(starts):
        if name in skipped:
            continue
        stop_at = starts[i + 1][1] if i + 1 < len(starts) else end
        inside = [s for s in samples if start <= s[0] < stop_at]
        stages[name] = {
            "seconds": round(stop_at - start, 1),
            "gpu_samples": len(inside),
            "gpu_utilisation_mean_pct": round(sum(s[1] for s in inside) / len(inside), 1) if inside else None,
            "gpu_memory_peak_mib": max(s[2] for s in inside) if inside else None,
        }
        if name in cached:
            stages[name]["cached"] = True
    record = {"steps": [], "stages": {}}
    if out.exists():
        record = json.loads(out.read_text())
    record["steps"].append({"args": dvc_args, "seconds": round(end - t0, 1), "exit_code": code,
                            "stages_run": list(stages)})
    record["stages"].update(stages)
    record["total_stage_seconds"] = round(sum(float(s["seconds"]) for s in record["stages"].values()), 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(out)
    print(stage_table(stages, len(skipped), end - t0, code))
    print(f"{len(stages)} stage(s) in {end - t0:.0f} s (dvc exit code {code}) → {out}", file=sys.stderr)
    return code


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}" if minutes >= 60 else f"{minutes}:{s:02d}"


def stage_table(stages: dict[str, dict], skipped: int, wall: float, code: int) -> str:
    """This run's stages and their wall times (GPU columns when sampled), as printed at the end."""
    gpu = any(s.get("gpu_samples") for s in stages.values())
    width = max([len(name) for name in stages] + [len("total")])
    head = f"  {'stage':<{width}}  {'time':>8}" + ("  GPU util  GPU peak" if gpu else "")
    rows = []
    for name, s in stages.items():
        row = f"  {name:<{width}}  {_duration(float(s['seconds'])):>8}"
        if gpu:
            util, peak = s.get("gpu_utilisation_mean_pct"), s.get("gpu_memory_peak_mib")
            row += f"  {'' if util is None else f'{util:.0f} %':>8}  {'' if peak is None else f'{peak:.0f} MiB':>8}"
        rows.append(row + ("  (restored from the run cache)" if s.get("cached") else ""))
    state = "" if code == 0 else f"; dvc exit code {code}"
    lines = [f"stage times ({len(stages)} run, {skipped} unchanged{state}):", head, *rows,
             f"  {'total':<{width}}  {_duration(wall):>8}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    dvc_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, dvc_args = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("stage_times.json"), help="JSON to write (merged)")
    parser.add_argument("--cwd", type=Path, default=Path("."), help="the checkout to run in")
    args = parser.parse_args(argv)
    return run(dvc_args, args.out, args.cwd)


if __name__ == "__main__":
    raise SystemExit(main())
