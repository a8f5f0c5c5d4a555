"""The report writes only its own outputs (issue 19, Why 1 and 2): never through a link, deletes only what its
manifest lists, temp files created with the final mode and removed on SIGTERM, SIGINT and stale leftovers."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nnlab import cli, report
from nnlab.report import render
from nnlab.results import atomic, layout
from tests.report import trees

RUN = "20261130-120000-abcdef"


@pytest.fixture
def results(tmp_path):
    """A results directory with one finished run whose figure is private (0600)."""
    results = tmp_path / "results"
    run_dir = trees.run(results / "exp" / RUN)
    (run_dir / "figure.png").chmod(0o600)
    return results


def _refused(results, capsys):
    code = cli.main(["--results", str(results), "report"])
    error = capsys.readouterr().err
    return code, error


def test_a_symlinked_report_files_is_refused_and_its_target_untouched(results, tmp_path, capsys):
    documents = tmp_path / "Documents"
    trees.write(documents / "thesis.txt", "my thesis")
    trees.write(documents / "exp-figure.png", trees.PNG)  # the very name the report would write
    (results / "report_files").symlink_to(documents)
    before = trees.listing(documents)

    code, error = _refused(results, capsys)

    assert code == 2 and error.startswith("nnlab: error: ") and error.count("\n") == 1, error
    assert "report_files is a symbolic link (to " in error and "rm " in error
    assert trees.listing(documents) == before
    assert not (results / "report.html").exists() and not (results / "report.md").exists()


def test_report_files_pointing_at_a_run_directory_deletes_nothing(results, capsys):
    run_dir = results / "exp" / RUN
    (results / "report_files").symlink_to(run_dir)
    before = trees.listing(run_dir)
    code, error = _refused(results, capsys)
    assert code == 2 and "symbolic link" in error
    assert trees.listing(run_dir) == before, "the run's config, metrics, history and figure are all still there"


@pytest.mark.parametrize("name", ["report.html", "report.md"])
def test_a_linked_or_odd_page_is_refused(results, tmp_path, capsys, name):
    target = trees.write(tmp_path / "elsewhere.txt", "not the report's")
    (results / name).symlink_to(target)
    code, error = _refused(results, capsys)
    assert code == 2 and f"{name} is a symbolic link" in error and target.read_text() == "not the report's"
    (results / name).unlink()
    os.mkfifo(results / name)  # a named pipe: refused at once, not opened and waited on
    code, error = _refused(results, capsys)
    assert code == 2 and f"{name} is a named pipe, not a plain file" in error


def test_report_files_that_is_a_file_is_refused(results, capsys):
    trees.write(results / "report_files", "a file where the folder goes")
    code, error = _refused(results, capsys)
    assert code == 2 and "report_files is a regular file, not a plain directory" in error
    (results / "report_files").unlink()
    (results / "report_files" / layout.REPORT_MANIFEST / "inside").mkdir(parents=True)
    code, error = _refused(results, capsys)
    assert code == 2 and "report_files/.manifest.json is a directory, not a plain file" in error


def test_a_linked_results_directory_is_followed(results, tmp_path):
    link = tmp_path / "linked-results"
    link.symlink_to(results)
    html_path, _ = report.build(link)
    assert (results / "report.html").is_file() and html_path.read_text() == (results / "report.html").read_text()
    assert (results / "report_files" / layout.REPORT_MANIFEST).is_file()


def test_deletes_only_what_its_manifest_lists(results, tmp_path):
    files = results / "report_files"
    trees.write(files / "notes.txt", "mine, put here before any report")
    report.build(results)
    manifest = json.loads((files / layout.REPORT_MANIFEST).read_text())
    assert (files / "notes.txt").read_text() == "mine, put here before any report", "a folder without manifest"
    assert "notes.txt" not in manifest["files"] and manifest["files"], manifest

    # Entries a later report must ignore: a name that is now a link, a directory, paths, hidden names.
    outside = trees.write(tmp_path / "outside.png", trees.PNG)
    (files / "was-ours.png").symlink_to(outside)
    (files / "now-a-folder.png").mkdir()
    trees.write(files / "now-a-folder.png" / "inside.txt", "kept")
    trees.write(files / "stale.png", trees.PNG)
    manifest["files"] += ["was-ours.png", "now-a-folder.png", "stale.png", "../exp/" + RUN, ".manifest.json", "/etc"]
    (files / layout.REPORT_MANIFEST).write_text(json.dumps(manifest))
    before_run = trees.listing(results / "exp")

    report.build(results)

    assert not (files / "stale.png").exists(), "an image an earlier report wrote and this one does not link"
    assert (files / "was-ours.png").is_symlink() and outside.read_bytes() == trees.PNG
    assert (files / "now-a-folder.png" / "inside.txt").read_text() == "kept"
    assert (files / "notes.txt").exists() and trees.listing(results / "exp") == before_run
    written = {path.name for path in files.glob("*.png") if path.is_file() and not path.is_symlink()}
    assert set(json.loads((files / layout.REPORT_MANIFEST).read_text())["files"]) == written


def test_a_linked_manifest_is_not_read_or_followed(results, tmp_path):
    files = results / "report_files"
    victim = trees.write(tmp_path / "victim.txt", "keep me")
    elsewhere = trees.write(tmp_path / "list.json", {"files": ["victim.txt"]})
    files.mkdir()
    (files / "victim.txt").symlink_to(victim)
    (files / layout.REPORT_MANIFEST).symlink_to(elsewhere)
    report.build(results)
    assert victim.read_text() == "keep me" and (files / "victim.txt").is_symlink()
    assert not (files / layout.REPORT_MANIFEST).is_symlink(), "replaced by the report's own manifest"
    assert json.loads(elsewhere.read_text()) == {"files": ["victim.txt"]}


def test_pages_and_copies_are_created_no_wider_than_the_private_figure(results, monkeypatch):
    """report.html's temporary file is 0600 from its creation on: the figure's bytes are never in a wider file."""
    seen = []
    original = render.html_parts

    def watched(title, blocks):
        for part in original(title, blocks):
            yield part
            seen.extend((path.name, path.stat().st_mode & 0o777) for path in results.glob(".report.html.*.tmp"))

    monkeypatch.setattr(render, "html_parts", watched)
    html_path, markdown_path = report.build(results)
    assert seen and {mode for _, mode in seen} == {0o600}, seen
    assert html_path.stat().st_mode & 0o777 == 0o600
    [copy] = (results / "report_files").glob("*figure.png")
    assert copy.stat().st_mode & 0o777 == 0o600
    assert markdown_path.stat().st_mode & 0o777 == 0o666 & ~_umask(), "no figure bytes in the Markdown"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_stale_temporary_files_are_removed(results):
    files = results / "report_files"
    old = [
        trees.write(results / ".report.html.1a2b3c.tmp", "left by a killed report"),
        trees.write(results / ".report.md.4d5e6f.tmp", "left by a killed report"),
        trees.write(files / ".exp-figure.png.7a8b9c.tmp", "left by a killed report"),
    ]
    kept = [
        trees.write(results / ".report.html.keep", "not a temporary name"),
        trees.write(results / ".other.json.abc.tmp", "another program's"),
        trees.write(results / "exp" / ".config.json.123.tmp", "a run's, not the report's"),
    ]
    for path in old + kept:
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    future = trees.write(results / ".report.html.fedcba.tmp", "a report writing right now")
    os.utime(future, (time.time() + 3600, time.time() + 3600))
    report.build(results)
    assert [path.exists() for path in old] == [False] * 3
    assert all(path.exists() for path in kept) and future.exists()


def test_temporary_file_is_created_with_the_final_mode_and_removed_on_error(tmp_path):
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    modes = []

    def chunks():
        yield b"private "
        modes.extend(path.stat().st_mode & 0o777 for path in tmp_path.glob(".page.*.tmp"))
        raise RuntimeError("the renderer failed half-way")

    try:
        with pytest.raises(RuntimeError):
            atomic.write_in(directory, "page", chunks(), mode=0o600)
    finally:
        os.close(directory)
    assert modes == [0o600] and list(tmp_path.iterdir()) == []


# Runs the real command, paused once the first part of report.html is in its temporary file.
PAUSED_REPORT = """
import sys, time
from pathlib import Path
from nnlab import cli
from nnlab.report import render

original = render.html_parts

def paused(title, blocks):
    parts = original(title, blocks)
    yield next(parts)
    yield next(parts)
    Path(sys.argv[1]).write_text("writing report.html")
    time.sleep(120)
    yield from parts

render.html_parts = paused
sys.exit(cli.main(["--results", sys.argv[2], "report"]))
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_report_leaves_no_temporary_file(results, tmp_path, signum, code):
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [sys.executable, "-c", PAUSED_REPORT, str(ready), str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        temporary = list(results.glob(".report.html.*.tmp"))
        assert ready.exists() and len(temporary) == 1, process.communicate(timeout=5) if process.poll() else temporary
        assert temporary[0].stat().st_mode & 0o777 == 0o600, "created private, before any byte is written"
        process.send_signal(signum)
        _, error = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, error
    assert "nnlab: interrupted by" in error and "Traceback" not in error
    assert not [path for path in results.rglob(".*.tmp")], "a temporary file outlived the report"
    assert not (results / "report.html").exists(), "an interrupted report leaves no half page"
