"""One option name per concept across the whole command line (issue 21, item 5): walks every
command of `poseboard` (and of `python -m poseboard.pipeline`) and checks the spellings."""

from __future__ import annotations

import re
from collections import defaultdict

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
