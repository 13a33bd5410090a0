"""One option name per concept across the whole command line (issue 21, item 5): walks every
command of `poseboard` (and of `python -m poseboard.pipeline`) and checks the spellings."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import typer

from poseboard.cli import app
from poseboard.pipeline import app as pipeline_app

#: Python parameter names that are one concept under two names (the flag is what users see).
SAME_CONCEPT = {"params_file": "params", "protocols": "protocol"}


def _options():
    """(command path, parameter name, flags, hidden, help) of every option of every command."""
    out = []

    def walk(command, path):
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))
            return
        for p in command.params:
            if p.param_type_name == "option" and p.name not in ("help",):
                out.append((" ".join(path), SAME_CONCEPT.get(p.name, p.name), tuple(p.opts), p.hidden, p.help or ""))

    walk(typer.main.get_command(app), ("poseboard",))
    walk(typer.main.get_command(pipeline_app), ("pipeline",))
    return out


def test_the_walk_sees_every_command():
    commands = {c for c, *_ in _options()}
    assert {"poseboard evaluate", "poseboard submit", "poseboard predict", "poseboard report",
            "poseboard generate", "poseboard train"} <= commands
    assert len(_options()) > 60


def test_one_long_flag_per_concept_and_one_concept_per_flag():
    flags_of = defaultdict(set)
    concepts_of = defaultdict(set)
    for _, name, opts, hidden, _ in _options():
        if hidden:
            continue
        long = tuple(o for o in opts if o.startswith("--"))
        flags_of[name].add(long)
        for flag in long:
            concepts_of[flag].add(name)
    several = {n: f for n, f in flags_of.items() if len(f) > 1}
    assert several == {}, f"one concept, several spellings: {several}"
    shared = {f: n for f, n in concepts_of.items() if len(n) > 1}
    assert shared == {}, f"one flag, several concepts: {shared}"


def test_short_flags_mean_one_thing():
    long_of = defaultdict(set)
    for _, _, opts, _, _ in _options():
        longs = [o for o in opts if o.startswith("--")]
        for short in (o for o in opts if re.fullmatch(r"-[A-Za-z]", o)):
            long_of[short].add(longs[0])
    # `-o` is "where this command writes" (data, report, PNG, converted files): one idea
    clashes = {s: sorted(ls) for s, ls in long_of.items() if len(ls) > 1 and s != "-o"}
    assert clashes == {}, f"short flags with several meanings: {clashes}"


def test_the_results_folder_is_always_results():
    """Every visible option that names a results folder is spelled `--results`; former
    spellings survive only as hidden aliases."""
    # the *other* results folder, compared against (the committed board, for the studio)
    second_folder = {("poseboard compare", "--reference"), ("poseboard studio", "--reference")}
    wrong = [(c, opts) for c, name, opts, hidden, help_ in _options()
             if not hidden and re.search(r"results? (folder|files)", help_) and opts[0] != "--results"
             and (c, opts[0]) not in second_folder]
    assert wrong == []
    results = {(c, opts) for c, name, opts, hidden, _ in _options() if name == "results"}
    assert results and all(opts == ("--results", "-r") for _, opts in results), results


def test_the_hidden_former_spelling_still_works(tmp_path):
    """`evaluate --out` (the former spelling) is hidden from --help but still accepted."""
    from typer.testing import CliRunner

    help_text = CliRunner().invoke(app, ["evaluate", "--help"]).output
    assert "--results" in help_text and "--out" not in help_text
    out = CliRunner().invoke(app, ["evaluate", "-p", str(tmp_path / "none.npz"), "--protocol",
                                   "synth-h36m-relative", "--out", str(tmp_path / "r")])
    assert out.exit_code == 2 and "predictions file not found" in out.output
    out = CliRunner().invoke(app, ["evaluate", "-p", str(tmp_path / "none.npz"), "--protocol", "synth-h36m-relative",
                                   "--out", str(tmp_path / "a"), "--results", str(tmp_path / "b")])
    assert out.exit_code == 2 and "disagree" in out.output


# ---------------------------------------------------------------------------- help that tells the truth
def _param_help(path: tuple[str, ...], name: str) -> str:
    """The help of parameter ``name`` (its Python name) of the command at ``path`` under `poseboard`."""
    command = typer.main.get_command(app)
    for part in path:
        command = command.commands[part]
    (param,) = [p for p in command.params if p.name == name]
    return param.help or ""


def _listed(help_text: str, lead: str) -> list[str]:
    """The choices listed right after ``lead``: ``a, b, c``, ``a, b or c`` or ``a, b, or c``."""
    match = re.match(re.escape(lead) + r"([\w+-]+(?:(?:, (?:or )?| or )[\w+-]+)*)", help_text)
    assert match, (lead, help_text)
    return re.split(r", (?:or )?| or ", match.group(1))


def _choice_lists() -> list[tuple[tuple[str, ...], str, str, tuple[str, ...]]]:
    """(command, parameter, the words before its list, the registry the list must equal)."""
    from poseboard.datasets.axes import MM_PER_UNIT, UPS
    from poseboard.datasets.calibration.rig_import import FORMATS as RIG_FORMATS
    from poseboard.datasets.real.config import DATASET_NAMES as REAL_DATASETS
    from poseboard.datasets.synthetic.config import DATASET_NAMES
    from poseboard.datasets.synthetic.vocabulary import EXTRA_ACTIONS, PRESETS
    from poseboard.methods.nets.weights_import import FORMATS as WEIGHT_FORMATS
    from poseboard.params import load_params

    profiles = tuple(load_params(Path(__file__).parents[1] / "params.yaml").profiles)
    return [
        (("generate",), "preset", "the synthetic world: ", PRESETS),
        (("generate",), "actions", "add a family of training actions to synth-h36m's training world: ",
         EXTRA_ACTIONS),
        (("generate",), "name", "", (*DATASET_NAMES, "all")),
        (("pretrain",), "profile", "hyper-parameter preset: ", profiles),
        (("train",), "profile", "hyper-parameter preset: ", profiles),
        (("pretrain",), "init_format", "layout of --init-weights: ", ("auto", *WEIGHT_FORMATS)),
        (("rig", "import"), "fmt", "", RIG_FORMATS),
        (("rig", "import"), "units", "the file's translation units: ", tuple(MM_PER_UNIT)),
        (("rig", "import"), "up", "the file's world axis pointing up: ", UPS),
        (("motion", "import"), "units", "BVH units: ", (*MM_PER_UNIT, "millimetres")),
        (("datasets", "check"), "name", "", REAL_DATASETS),
    ]


def test_every_listed_choice_is_the_registry():
    """Issue 67: an option's help that lists its choices (presets, action families, datasets,
    profiles, formats, units) lists exactly what the code accepts, in the registry's order."""
    wrong = {}
    for path, name, lead, registry in _choice_lists():
        listed = _listed(_param_help(path, name), lead)
        if listed != list(registry):
            wrong[" ".join(path), name] = (listed, list(registry))
    assert wrong == {}


def test_generate_help_lists_the_registered_presets():
    """What a user sees: `poseboard generate --help` names every preset (broad included) and
    every family of extra actions, as the registries list them."""
    from typer.testing import CliRunner

    from poseboard.datasets.synthetic.config import _PRESETS
    from poseboard.datasets.synthetic.vocabulary import EXTRA_ACTIONS, PRESETS

    result = CliRunner().invoke(app, ["generate", "--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"})
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    assert "the synthetic world: " + ", ".join(PRESETS) + " (" in shown and "broad" in PRESETS
    assert tuple(_PRESETS) == PRESETS
    assert "training world: " + ", ".join(EXTRA_ACTIONS) + " (" in shown
