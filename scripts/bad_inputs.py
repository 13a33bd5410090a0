"""Malformed inputs across the command line and every file format, each run for real.

For every case: the exit code (or the exception), the first line of the message, whether
the message names the offending file or option, and whether anything was written (a
snapshot of the working folder before and after). Prints a Markdown table; exits 1 if a
case did not fail cleanly. Run from the repository root:

    .venv/bin/python scripts/bad_inputs.py            # the table (about a minute)

``tests/test_bad_inputs.py`` runs the same cases.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from typer.testing import CliRunner

from poseboard.camera import save_rig
from poseboard.cli import app
from poseboard.datasets.storage import open_dataset
from poseboard.datasets.synthetic.body import SUBJECTS
from poseboard.datasets.synthetic.generator import SynthConfig, generate_dataset
from poseboard.datasets.synthetic.rigs import build_rig
from poseboard.errors import PoseboardError
from poseboard.workflows.scaffold import scaffold_method

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = "synth-h36m-relative"


@dataclass
class Case:
    name: str
    kind: str  # what is malformed: CLI option, predictions file, motion, rig, ...
    run: Callable[[Path], tuple[int, str]]  # (exit code, output) in a fresh work folder
    expect: str  # a piece of the message that says what is wrong
    names: str | None = None  # the file or option the message must name
    watch: tuple[str, ...] = ("results", "gen", "report", "outside", "ck")  # folders nothing may be written to


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _call(fn: Callable[[], object]) -> tuple[int, str]:
    """A library entry point: 0 if it returned, 2 if it raised a PoseboardError (as the CLI
    maps it), 1 for any other exception (a crash, not a clean refusal)."""
    try:
        fn()
    except PoseboardError as exc:
        return 2, str(exc)
    except Exception as exc:
        return 1, f"{type(exc).__name__}: {exc}"
    return 0, ""


class World:
    """A tiny synthetic test split and valid versions of every file, to break one at a time."""

    def __init__(self, base: Path) -> None:
        self.data = base / "data"
        config = SynthConfig.preset("smoke").with_split_sizes("test", samples=8, stride=16)
        generate_dataset("synth-h36m", config, self.data, seed=1, splits=("test",))
        store = open_dataset(self.data / "synth-h36m" / "test")
        self.ids = np.array([store.meta(i).sample_id for i in range(len(store))])
        self.joints = store.joints_3d + np.random.default_rng(0).normal(scale=10.0, size=store.joints_3d.shape)
        self.rig = build_rig("h36m", np.random.default_rng(0))
        pose = SUBJECTS["S1"].rest_pose()
        self.motion = np.stack([pose + [5.0 * i, 0.0, 0.0] for i in range(30)])

    def preds(self, work: Path, name: str = "preds.npz", **arrays) -> Path:
        path = work / name
        base = {"sample_ids": self.ids.astype(str), "joints_3d": self.joints, "frame": np.array("world")}
        base.update(arrays)
        np.savez(path, **{k: v for k, v in base.items() if v is not None})
        return path

    def evaluate(self, work: Path, preds: Path, method: str = "mine", *extra: str) -> tuple[int, str]:
        return _cli("evaluate", "-p", str(preds), "--protocol", PROTOCOL, "--method", method,
                    "--data-dir", str(self.data), "--results", str(work / "results"), *extra)

    def checkpoint(self, work: Path) -> Path:
        from poseboard.methods.registry import REGISTRY

        cls = REGISTRY.get("algebraic")
        folder = work / "checkpoints" / "algebraic"
        cls(cls.config_model.preset("smoke")).save(folder)
        return folder


def cases(world: World) -> list[Case]:
    W = world
    out: list[Case] = []

    def add(name, kind, run, expect, names=None, watch=None):
        out.append(Case(name, kind, run, expect, names, *([watch] if watch else [])))

    # --- names that would choose a path or carry markup
    for label, bad in [("traversal", "../../escaped"), ("absolute path", "/tmp/escaped"), ("separator", "a/b"),
                       ("markup", "<img src=x onerror=alert(1)>"), ("control character", "bad\x1bname"),
                       ("65 characters", "x" * 65), ("not UTF-8 (surrogate escape)", "caf\udce9")]:
        add(f"evaluate --method: {label}", "method name",
            lambda w, bad=bad: W.evaluate(w, W.preds(w), bad), "not a valid name", "--method")
    def symlinked(w):
        (w / "results").mkdir()
        (w / "outside").mkdir()
        (w / "results" / "mine").symlink_to(w / "outside")
        code, text = W.evaluate(w, W.preds(w), "mine")
        return code, text if not any((w / "outside").iterdir()) else text + " [WROTE OUTSIDE]"
    add("results/<method> is a symlink out of the results folder", "results folder", symlinked,
        "outside the folder", "results")
    add("submit --method: a registered method's name", "method name",
        lambda w: _cli("submit", str(W.preds(w)), "--protocol", PROTOCOL, "--method", "algebraic",
                       "--card", str(_card(w)), "--data-dir", str(W.data), "--results", str(w / "results")),
        "is a registered method", "--method")
    add("new-method: traversal", "method name",
        lambda w: _call(lambda: scaffold_method("../../x", w)),
        "lower-case letters", None)
    add("params.yaml: a method key with a separator", "params.yaml",
        lambda w: _params(w, lambda d: d["methods"].__setitem__("a/b", dict(d["methods"]["ransac"]))),
        "not a valid name", "methods.'a/b'")
    add("params.yaml: misspelt key", "params.yaml",
        lambda w: _params(w, lambda d: d["profiles"]["smoke"]["data"].__setitem__("presett", "smoke")),
        "unknown key (did you mean 'preset'?)", "profiles.smoke.data.presett")
    add("params.yaml: misspelt device", "params.yaml",
        lambda w: _params(w, lambda d: d["profiles"]["smoke"].__setitem__("device", "gpu")),
        "device", "profiles.smoke.device")

    # --- predictions files
    add("predictions in metres", "predictions", lambda w: W.evaluate(w, W.preds(w, joints_3d=W.joints / 1000)),
        "metres", "preds.npz")
    add("predictions in centimetres", "predictions", lambda w: W.evaluate(w, W.preds(w, joints_3d=W.joints / 10)),
        "centimetres", "preds.npz")
    nan = W.joints.copy()
    nan[1, 3, 0] = np.nan
    add("NaN in predictions", "predictions", lambda w: W.evaluate(w, W.preds(w, joints_3d=nan)), "NaN", "preds.npz")
    dup = np.concatenate([W.ids, W.ids[:1]]).astype(str)
    add("a sample id twice", "predictions",
        lambda w: W.evaluate(w, W.preds(w, sample_ids=dup, joints_3d=np.concatenate([W.joints, W.joints[:1]]))),
        "appears more than once", "preds.npz")
    add("a test frame missing", "predictions",
        lambda w: W.evaluate(w, W.preds(w, sample_ids=W.ids[1:].astype(str), joints_3d=W.joints[1:])),
        "have no prediction", "preds.npz")
    unknown = W.ids.astype(str).copy().astype(object)
    unknown[0] = "S0/Nothing/000/000000"
    add("an unknown sample id", "predictions",
        lambda w: W.evaluate(w, W.preds(w, sample_ids=unknown.astype(str))), "S0/Nothing", "preds.npz")
    add("16 joints instead of 17", "predictions", lambda w: W.evaluate(w, W.preds(w, joints_3d=W.joints[:, :16])),
        "shape", "preds.npz")
    add("pickled object array", "predictions",
        lambda w: W.evaluate(w, W.preds(w, sample_ids=W.ids.astype(object))), "unpickling", "preds.npz")
    def garbage(w):
        p = w / "preds.npz"
        p.write_bytes(b"\x00not an npz" * 10)
        return W.evaluate(w, p)
    add("not a zip archive", "predictions", garbage, "not a readable .npz", "preds.npz")
    add("file missing", "predictions", lambda w: W.evaluate(w, w / "nope.npz"), "not found", "nope.npz")
    def bomb(w):
        p = w / "preds.npz"
        np.savez_compressed(p, sample_ids=W.ids.astype(str), joints_3d=np.zeros((12_000_000, 17, 3)))
        return W.evaluate(w, p)
    add("huge: unpacks to 4.9 GB (a 5 MB zip bomb)", "predictions", bomb, "unpack to", "preds.npz")
    def non_utf8_name(w):
        name = os.fsdecode(b"pr\xe9ds.npz")
        return W.evaluate(w, W.preds(w, name=name, joints_3d=W.joints / 1000))
    add("non-UTF-8 file name (and metres inside)", "predictions", non_utf8_name, "metres", "pr")
    add("unknown 'frame'", "predictions", lambda w: W.evaluate(w, W.preds(w, frame=np.array("camera-ish"))),
        "'frame' must be", "preds.npz")

    # --- motion .npz
    def motion(w, poses, **extra):
        p = w / "motion.npz"
        np.savez(p, poses=poses, **extra)
        return _cli("generate", "synth-h36m", "--preset", "smoke", "--motion", str(p), "--out", str(w / "gen"),
                    "--quiet")
    add("motion: Y up (Y and Z swapped)", "motion", lambda w: motion(w, W.motion[..., [0, 2, 1]]),
        "point along +Y", "motion.npz")
    add("motion in metres", "motion", lambda w: motion(w, W.motion / 1000), "metres", "motion.npz")
    add("motion: floating 2 m above the floor", "motion", lambda w: motion(w, W.motion + [0, 0, 2000]),
        "floor", "motion.npz")
    add("motion: NaN", "motion", lambda w: motion(w, np.where(np.arange(30)[:, None, None] == 4, np.nan, W.motion)),
        "NaN", "motion.npz")
    add("motion: misspelt key", "motion", lambda w: motion(w, W.motion, sequences=np.array(["a"] * 30)),
        "did you mean", "motion.npz")
    add("motion: fps 0", "motion", lambda w: motion(w, W.motion, fps=0.0), "'fps'", "motion.npz")

    # --- rig JSON
    def rig(w, mutate):
        p = w / "rig.json"
        save_rig(W.rig, p)
        data = json.loads(p.read_text())
        mutate(data)
        p.write_text(json.dumps(data))
        return _cli("generate", "synth-h36m", "--preset", "smoke", "--rig", str(p), "--out", str(w / "gen"),
                    "--quiet")
    add("rig: translations in metres", "rig",
        lambda w: rig(w, lambda d: [c.__setitem__("t", [x / 1000 for x in c["t"]]) for c in d["cameras"]]),
        "looks like metres", "rig.json")
    add("rig: duplicate camera names", "rig",
        lambda w: rig(w, lambda d: d["cameras"][1].__setitem__("name", d["cameras"][0]["name"])),
        "must be unique", "rig.json")
    add("rig: R not a rotation", "rig",
        lambda w: rig(w, lambda d: d["cameras"][0].__setitem__("R", [[1, 0, 0], [0, 1, 0], [0, 0, -1]])),
        "rotation", "rig.json")
    add("rig: units 'm'", "rig", lambda w: rig(w, lambda d: d.__setitem__("units", "m")), "millimetres", "rig.json")
    def rig_not_json(w):
        p = w / "rig.json"
        p.write_text("{cameras: [")
        return _cli("generate", "synth-h36m", "--rig", str(p), "--out", str(w / "gen"), "--quiet")
    add("rig: not JSON", "rig", rig_not_json, "not valid JSON", "rig.json")

    # --- protocol definitions (POSEBOARD_PROTOCOLS_DIR)
    def protocol_file(w, mutate):
        from poseboard.protocols.registry import DEFINITIONS_DIR, load_protocol_file

        data = yaml.safe_load((DEFINITIONS_DIR / f"{PROTOCOL}.yaml").read_text())
        mutate(data)
        p = w / "mine.yaml"
        p.write_text(yaml.safe_dump(data))
        return _call(lambda: load_protocol_file(p))
    add("protocol: an unknown metric", "protocol YAML",
        lambda w: protocol_file(w, lambda d: d.__setitem__("metrics", [*d["metrics"], "mpjpee"])), "metrics",
        "mine.yaml")
    add("protocol: headline not among its metrics", "protocol YAML",
        lambda w: protocol_file(w, lambda d: d.__setitem__("headline", "pck3d") if "pck3d" not in d["metrics"]
                                else d.__setitem__("headline", "mrpe")), "headline", "mine.yaml")

    # --- checkpoints
    def checkpoint(w, corrupt):
        from poseboard.methods.registry import REGISTRY

        folder = W.checkpoint(w)
        corrupt(folder)
        return _call(lambda: REGISTRY.get("algebraic").load(folder))
    add("checkpoint: weights.pt holds text", "checkpoint",
        lambda w: checkpoint(w, lambda f: (f / "weights.pt").write_text("garbage " * 100)), "weights", "weights.pt")
    add("checkpoint: weights.pt truncated", "checkpoint",
        lambda w: checkpoint(w, lambda f: (f / "weights.pt").write_bytes((f / "weights.pt").read_bytes()[:5000])),
        "weights", "weights.pt")
    def wrong_method(w):
        from poseboard.methods.registry import REGISTRY

        W.checkpoint(w)
        return _call(lambda: REGISTRY.get("volumetric").load(w / "checkpoints" / "algebraic"))
    add("checkpoint: another method's folder", "checkpoint", wrong_method, "algebraic", "algebraic")

    # --- method cards (submit)
    for label, changes, expect in [("card: javascript: link", {"code_url": "javascript:alert(1)"}, "http"),
                                   ("card: missing title", {"title": None}, "title"),
                                   ("card: unknown key", {"licence": "MIT"}, "licence")]:
        add(label, "method card",
            lambda w, changes=changes: _cli("submit", str(W.preds(w)), "--protocol", PROTOCOL, "--method", "mine",
                                            "--card", str(_card(w, **changes)), "--data-dir", str(W.data),
                                            "--results", str(w / "results")), expect, "card.yaml")
    def card_python_tag(w):
        p = w / "card.yaml"
        p.write_text("!!python/object/apply:os.system ['touch HACKED']\n")
        return _cli("submit", str(W.preds(w)), "--protocol", PROTOCOL, "--method", "mine", "--card", str(p),
                    "--data-dir", str(W.data), "--results", str(w / "results"))
    add("card: a YAML Python tag", "method card", card_python_tag, "not valid YAML", "card.yaml")

    # --- command-line options
    add("--device cuda:7 on a machine without it", "CLI option",
        lambda w: _cli("predict", "ransac", "--protocol", PROTOCOL, "--device", "cuda:7", "--data-dir", str(W.data),
                       "--results", str(w / "results"), "--checkpoints", str(w / "ck")), "cuda", "--device")
    add("--device typo", "CLI option",
        lambda w: _cli("predict", "ransac", "--protocol", PROTOCOL, "--device", "gpu", "--data-dir", str(W.data),
                       "--results", str(w / "results"), "--checkpoints", str(w / "ck")), "gpu", "--device")
    add("generate --test-stride 0", "CLI option",
        lambda w: _cli("generate", "synth-h36m", "--test-stride", "0", "--out", str(w / "gen")),
        "greater than or equal to", "--test-stride")
    add("--protocol that does not exist", "CLI option", lambda w: W.evaluate(w, W.preds(w), "mine", "--protocol",
                                                                               "synth-h36m-relativ"),
        "did you mean", None)
    add("--results and its former spelling --out disagree", "CLI option",
        lambda w: W.evaluate(w, W.preds(w), "mine", "--out", str(w / "other")), "disagree", "--out")

    # --- result files read by the report
    def tampered(w, edit):
        code, text = W.evaluate(w, W.preds(w), "mine")
        assert code == 0, text
        path = w / "results" / "mine" / f"{PROTOCOL}@3.json"
        edit(path)
        return _cli("report", "--results", str(w / "results"), "--out", str(w / "report"), "--params",
                    str(w / "none.yaml"))
    add("result file: method name edited to markup", "result JSON",
        lambda w: tampered(w, lambda p: p.write_text(p.read_text().replace('"name": "mine"', '"name": "<b>x</b>"'))),
        "not a valid method name", "@3.json", ("report",))
    add("result file: truncated JSON", "result JSON",
        lambda w: tampered(w, lambda p: p.write_text(p.read_text()[:200])), "JSON", "@3.json", ("report",))
    return out


def _card(w: Path, **changes) -> Path:
    card = {"title": "Mine", "paper": "unpublished", "trained_on": "synth-h36m train", **changes}
    p = w / "card.yaml"
    p.write_text(yaml.safe_dump({k: v for k, v in card.items() if v is not None}))
    return p


def _params(w: Path, mutate) -> tuple[int, str]:
    data = yaml.safe_load((ROOT / "params.yaml").read_text())
    mutate(data)
    p = w / "params.yaml"
    p.write_text(yaml.safe_dump(data))
    return _cli("params", "check", "--params", str(p))


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


def run_case(case: Case, base: Path) -> dict:
    """Run one case in its own, empty folder: afterwards the output folders it watches must
    hold no file (a case that needs an input there, e.g. a result file to tamper with, watches
    only the folder the command would write: the report)."""
    work = Path(tempfile.mkdtemp(dir=base, prefix="case-"))
    code, text = case.run(work)
    wrote = any(_tree(work / o) for o in case.watch if (work / o).exists())
    wrote = wrote or "[WROTE OUTSIDE]" in text or (work.parent.parent / "escaped").exists()
    message = " ".join(text.replace("error: ", "", 1).split())
    named = case.names is None or case.names in text
    ok = code == 2 and case.expect in text and named and not wrote
    shutil.rmtree(work, ignore_errors=True)
    return {"case": case.name, "kind": case.kind, "exit": code, "message": message, "named": named,
            "wrote": wrote, "ok": ok}


def run_all(base: Path) -> list[dict]:
    world = World(base)
    rows = [run_case(c, base) for c in cases(world)]
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| # | input | kind | exit | message (first 160 characters) | verdict |", "|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        msg = r["message"][:160].replace("|", "\\|")
        verdict = "clear error, nothing written" if r["ok"] else (
            "WROTE FILES" if r["wrote"] else "message lacks the file/option" if not r["named"] else "NOT CLEAN")
        lines.append(f"| {i} | {r['case']} | {r['kind']} | {r['exit']} | {msg} | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="poseboard-bad-inputs-") as tmp:
        rows = run_all(Path(tmp))
    print(markdown(rows))
    bad = [r["case"] for r in rows if not r["ok"]]
    print(f"\n{len(rows)} malformed inputs, {len(rows) - len(bad)} refused cleanly" + (f"; NOT: {bad}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
