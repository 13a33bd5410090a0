"""Other profiles' leaderboards: ``poseboard publish`` and the report's profile switch."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from poseboard.errors import InputError
from poseboard.report.build import build_report
from poseboard.report.profiles import PROFILE_FILE, publish_profile, read_published


@pytest.fixture
def checkout(make_checkout):
    """A `gpu` checkout with a predictions file beside its results (it must not be published)."""
    def make(root: Path, results_dir: Path, profile: str) -> Path:
        root = make_checkout(root, results_dir, profile)
        (root / "results" / "noise-8mm" / "stray.npz").write_bytes(b"predictions stay behind")
        return root
    return make


def _links(html: str) -> list[str]:
    nav = re.search(r'<nav class="profiles".*?</nav>', html, re.S)
    assert nav, "no profile switch on the page"
    return re.findall(r'href="([^"]+)"', nav.group(0))


def test_publish_copies_results_and_records_the_run(tmp_path, results_dir, checkout, write_params):
    source = checkout(tmp_path / "gpu-clone", results_dir, "gpu")
    meta, dest = publish_profile(source, tmp_path / "published", active_profile="default")
    assert dest == tmp_path / "published" / "gpu"
    assert meta.profile == "gpu" and meta.device == "cuda" and meta.hardware == ["cpu (test)"]
    assert (meta.precision, meta.train_precision) == ("fp32", "fp32")  # the gpu profile's, as committed
    copied = sorted(p.relative_to(dest / "results") for p in (dest / "results").rglob("*.json"))
    original = sorted(p.relative_to(results_dir) for p in results_dir.rglob("*.json"))
    assert copied == original  # result files and their run sidecars, same layout
    assert not list(dest.rglob("*.npz"))
    assert json.loads((dest / PROFILE_FILE).read_text())["num_results"] == meta.num_results == 9
    [(found, folder)] = read_published(tmp_path / "published")
    assert found == meta and folder == dest


def test_report_has_a_page_per_profile_and_a_switch_between_them(tmp_path, results_dir, checkout, write_params):
    publish_profile(checkout(tmp_path / "gpu-clone", results_dir, "gpu"), tmp_path / "published")
    out = tmp_path / "report"
    summary = build_report(results_dir, out, write_params(tmp_path), published=tmp_path / "published")
    assert [p.out for p in summary.pages] == [out, out / "profiles" / "gpu"]
    main = (out / "index.html").read_text()
    gpu = (out / "profiles" / "gpu" / "index.html").read_text()
    assert _links(main) == ["profiles/gpu/index.html"]
    assert _links(gpu) == ["../../index.html"]
    for page, html in ((out, main), (out / "profiles" / "gpu", gpu)):
        for href in _links(html):
            assert (page / href).resolve().is_file(), href
    assert "Profile <code>default</code>" in main and "Profile <code>gpu</code>" in gpu
    assert '<b class="profile current"' in gpu and "gpu <span" in gpu
    # every table says where it comes from
    for html in (main, gpu):
        boards = re.findall(r'<section id="[^"]+" class="board">.*?</section>', html, re.S)
        assert len(boards) == 3
        assert all("predictions on cpu (test)" in b for b in boards)
    assert (out / "profiles" / "gpu" / "tables" / "README.md").is_file()
    index = (out / "profiles" / "README.md").read_text()
    assert "gpu/index.html" in index and "default (active)" in index


def test_an_unpublished_profile_loses_its_page(tmp_path, results_dir, checkout, write_params):
    published = tmp_path / "published"
    publish_profile(checkout(tmp_path / "gpu-clone", results_dir, "gpu"), published)
    params = write_params(tmp_path)
    build_report(results_dir, tmp_path / "report", params, published=published)
    assert (tmp_path / "report" / "profiles" / "gpu" / "index.html").is_file()
    shutil.rmtree(published / "gpu")
    summary = build_report(results_dir, tmp_path / "report", params, published=published)
    assert len(summary.pages) == 1
    assert not (tmp_path / "report" / "profiles" / "gpu").exists()
    assert '<nav class="profiles"' not in (tmp_path / "report" / "index.html").read_text()


def test_publish_refuses_what_it_cannot_stand_behind(tmp_path, results_dir, checkout, write_params):
    published = tmp_path / "published"
    source = checkout(tmp_path / "gpu-clone", results_dir, "gpu")
    with pytest.raises(InputError, match=r"--profile: 'paper', but .*ran profile 'gpu'"):
        publish_profile(source, published, profile="paper")
    with pytest.raises(InputError, match="is this checkout's active profile"):
        publish_profile(source, published, active_profile="gpu")
    empty = tmp_path / "empty-clone"
    empty.mkdir()
    write_params(empty, "gpu")
    with pytest.raises(InputError, match="no result files; run `dvc repro` there first"):
        publish_profile(empty, published)
    with pytest.raises(InputError, match=r"no params\.yaml"):
        publish_profile(tmp_path / "nowhere", published)
    assert not published.exists() or not any(published.iterdir())


def test_a_failed_publish_keeps_the_previous_one(tmp_path, results_dir, checkout, write_params):
    published = tmp_path / "published"
    source = checkout(tmp_path / "gpu-clone", results_dir, "gpu")
    _, dest = publish_profile(source, published)
    before = sorted(p.relative_to(dest) for p in dest.rglob("*"))
    bad = next((source / "results").rglob("synth-h36m-relative@*.json"))
    bad.write_text("{not json")
    with pytest.raises(Exception, match="not valid JSON"):
        publish_profile(source, published)
    assert sorted(p.relative_to(dest) for p in dest.rglob("*")) == before
    assert [p.name for p in published.iterdir()] == ["gpu"]  # no staging folder left behind


def test_the_report_refuses_a_renamed_or_misnamed_published_folder(tmp_path, results_dir, checkout, write_params):
    published = tmp_path / "published"
    _, dest = publish_profile(checkout(tmp_path / "gpu-clone", results_dir, "gpu"), published)
    dest.rename(published / "gpu2")
    with pytest.raises(InputError, match="field 'profile' is 'gpu' but the folder is 'gpu2'"):
        build_report(results_dir, tmp_path / "report", write_params(tmp_path), published=published)
    (published / "gpu2").rename(published / "Bad Name")
    with pytest.raises(InputError, match="is not a valid name"):
        build_report(results_dir, tmp_path / "report", write_params(tmp_path), published=published)
    (published / "Bad Name").rename(published / "default")
    (published / "default" / PROFILE_FILE).write_text(
        (published / "default" / PROFILE_FILE).read_text().replace('"profile": "gpu"', '"profile": "default"'))
    with pytest.raises(InputError, match="is the active profile"):
        build_report(results_dir, tmp_path / "report", write_params(tmp_path), published=published)


def test_publish_command_exit_codes(tmp_path, results_dir, monkeypatch, checkout, write_params):
    from poseboard.cli import app

    monkeypatch.chdir(tmp_path)
    write_params(tmp_path)
    source = checkout(tmp_path / "gpu-clone", results_dir, "gpu")
    runner = CliRunner()
    ok = runner.invoke(app, ["publish", str(source)])
    assert ok.exit_code == 0, ok.output
    assert "published profile gpu: 9 result file(s) on cpu (test)" in ok.output
    assert (tmp_path / "published" / "gpu" / PROFILE_FILE).is_file()
    bad = runner.invoke(app, ["publish", str(source), "--profile", "smoke"])
    assert bad.exit_code == 2 and "--profile: 'smoke'" in bad.output
    own = runner.invoke(app, ["publish", str(tmp_path)])
    assert own.exit_code == 2
