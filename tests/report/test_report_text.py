"""Text that cannot lie in the report (issue 19, Why 7): bidi overrides and other hidden characters in directory
names, Choice values, overrides and messages are shown as \\uXXXX in report.html and report.md."""

import re
import unicodedata
import urllib.parse

from nnlab import report
from nnlab.report import blocks as doc
from nnlab.report import render
from nnlab.results import limits
from tests.report import trees

LYING_RUN = "run\u202egnp.exe"  # displays as "runexe.png"
HIDDEN = "\u202e\u2066\u200b\u2028\u2029\x1b\x7f\u00ad\ufeff"


def _hidden_characters(text):
    return {char for char in text if char not in "\t\n" and unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")}


def test_bidi_in_a_directory_name_and_a_choice_value_is_shown_not_obeyed(tmp_path):
    results = tmp_path / "results"
    experiment = results / "exp\u202etxt.sh"
    trees.run(experiment / LYING_RUN, overrides={"activation": "relu\u202e", "note": f"a{HIDDEN}b"})
    trees.write(
        experiment / LYING_RUN / "status.json",
        {"status": "failed", "message": f"stopped\u2028by {HIDDEN}", "updated": ""},
    )
    sweep = experiment / "sweeps" / "random-0123"
    trees.write(sweep / "sweep.json", {"status": "done", "search_space": {"activation": {}}, "objective": "val\u202e"})
    trees.write(sweep / "trials.csv", "trial_id,status,activation,best_objective\n00,COMPLETED,gnp\u202eexe.,0.9\n")
    trees.write(sweep / "best_config.json", {"trial_id": "00", "overrides": {"activation": "gnp\u202eexe."}})

    html_path, markdown_path = report.build(results)
    page, markdown = html_path.read_text(), markdown_path.read_text()

    for text in (page, markdown):
        assert not _hidden_characters(text), _hidden_characters(text)
    assert "<td>gnp\\u202eexe.</td>" in page and "| gnp\\\\u202eexe. |" in markdown  # the trials table
    assert "run\\u202egnp.exe" in page and "activation=relu\\u202e" in page and "exp\\u202etxt.sh" in page
    assert "stopped\\u2028by \\u202e\\u2066\\u200b\\u2028\\u2029\\u001b\\u007f\\u00ad\\ufeff" in page
    assert "run\\\\u202egnp.exe" in markdown, "Markdown escapes the backslash, so it renders as \\u202e"
    # The link still leads to the directory with the real name; only the text shown changed.
    assert f'href="{urllib.parse.quote("exp" + chr(0x202E) + "txt.sh", safe="")}/' in page
    # Every table-of-contents link has its heading, although headings hold escaped names.
    ids = set(re.findall(r' id="([^"]+)"', page))
    assert {target for target in re.findall(r'href="#([^"]+)"', page)} <= ids


def test_every_block_passes_through_shown():
    blocks = [
        doc.Heading(2, "h\u202e"),
        doc.Text("t\u202e"),
        doc.Note("n\u202e"),
        doc.Code('{\n  "k": "c\u2028"\n}'),
        doc.Table(["col\u202e"], [[doc.Cell("cell\u202e", "done", "x/")], ["plain\u202e"]], caption="cap\u202e"),
        doc.Figure("f.png", trees.PNG, "fig\u202e"),
    ]
    for text in (render.to_html("title\u202e", blocks), render.to_markdown("title\u202e", blocks, "report_files")):
        assert not _hidden_characters(text)
        for word in ("title", "h", "t", "n", "col", "cell", "plain", "cap", "fig"):
            assert re.search(rf"{word}\\+u202e", text), word
        assert re.search(r"c\\+u2028", text)


def test_long_text_is_cut_in_every_block():
    long = "x" * (limits.TEXT_MAX_CHARS * 3)
    page = render.to_html("t", [doc.Text(long), doc.Table(["c"], [[long]]), doc.Code(long)])
    assert page.count(f"… ({len(long)} characters in all)") == 3 and long[: limits.TEXT_MAX_CHARS + 1] not in page
