"""Measure issue 39's promise: a fresh clone, a scaffolded method, ``poseboard method`` with the
backbone not re-trained; prints the ``method-time`` marker for docs/performance.md
(:mod:`poseboard.workflows.method_budget`).

    python scripts/time_method.py [--profile default] [--init backbone|none] [--keep DIR]

With ``--init backbone`` (the promise) the clone first runs ``poseboard board pull
pretrain_backbone`` (the ``board`` remote, else the backbone shipped in weights/); the pull is
timed with the rest. ``--init none`` runs the same stages without the backbone (``no_init``
instead of ``pretrain_backbone``): the path a pulled backbone leaves, measurable where no board
is published. Run it on an idle machine and name the CPU (the marker does, from /proc/cpuinfo).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    """The CPU's model name and family/model numbers (what tells AMD generations apart)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = re.search(r"model name\s*:\s*(.+)", info)
    family = re.search(r"cpu family\s*:\s*(\d+)", info)
    model = re.search(r"^model\s*:\s*(\d+)", info, flags=re.MULTILINE)
    cores = len(re.findall(r"^processor\s*:", info, flags=re.MULTILINE))
    return (f"{name[1].strip() if name else 'unknown CPU'}, family {family[1] if family else '?'} model "
            f"{model[1] if model else '?'}, {cores} cores")


def run(cmd: list[str], cwd: Path) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--init", choices=["backbone", "none"], default="backbone")
    ap.add_argument("--keep", type=Path, help="clone into this folder and keep it (default: a temporary one)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from poseboard.params import load_params
    from poseboard.workflows.method_budget import MethodTime, profile_digest

    base = args.keep or Path(tempfile.mkdtemp(prefix="time-method-"))
    clone = base / "clone"
    poseboard = [sys.executable, "-m", "poseboard.cli"]
    t0 = time.perf_counter()
    run(["git", "clone", "-q", str(ROOT), str(clone)], base)
    params = clone / "params.yaml"
    params.write_text(re.sub(r"^profile: \w+", f"profile: {args.profile}", params.read_text(), flags=re.MULTILINE))
    if args.init == "backbone":
        run([*poseboard, "board", "pull", "pretrain_backbone"], clone)
    run([*poseboard, "new-method", "time-probe", "--init", args.init], clone)
    run([*poseboard, "method", "time-probe"], clone)
    minutes = (time.perf_counter() - t0) / 60
    record = MethodTime(args.profile, profile_digest(load_params(params), args.profile), minutes, cpu_name())
    print(f"\nmake method (init {args.init}) on profile {args.profile}: {minutes:.1f} min wall\n{record.marker()}")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
