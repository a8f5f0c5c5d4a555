"""A results tree written by someone hostile or careless: the report must not run script, link to another scheme,
or read files outside the tree, whichever Markdown renderer shows report.md.

The tree is written by hand (no training): a `javascript:`-named experiment, run directories whose names need
percent-encoding, HTML and Markdown in every recorded string, a symlink to a file outside the tree, and a figure
readable by its owner only.
"""

import html
import html.parser
import json
import os
import urllib.parse
from pathlib import Path

import markdown
import markdown_it
import pytest

from nnlab import report
from nnlab.report import render

SCRIPT = "<script>alert(1)</script>"
ATTACKS = [SCRIPT, "<img src=x onerror=alert(2)>", "[click](javascript:alert(3))", "![x](javascript:alert(4))"]
EVIL_EXPERIMENT = "javascript:alert(document.domain)%2F%2F"
ODD_RUN = "odd #?% name"
# A 1x1 PNG; the "secret" is the same image with its own marker bytes appended, outside the results tree.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5f6ec9b0000000049454e44ae426082"
)
SECRET = PNG + b"root:$6$not-for-the-report$"


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def _hostile_run(run_dir, attack):
    _write(run_dir / "config.json", {"config": {"note": attack, "epochs": 2}, "overrides": {"note": attack}})
    _write(run_dir / "status.json", {"status": "failed", "message": f"failed: {attack}", "updated": attack})
    _write(run_dir / "env.json", {"python": attack, "command": ["nnlab", attack], "devices": {"used": attack}})
    _write(run_dir / "metrics.json", {"final": {"loss": 0.5, attack: 1.0}, "train_seconds": 3.0})
    _write(run_dir / "history.csv", f'epoch,loss,"{attack.replace(chr(34), "")}"\n0,0.7,1\n1,0.5,1\n')


@pytest.fixture
def hostile_tree(tmp_path):
    results = tmp_path / "results"
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "shadow").write_bytes(SECRET)
    (outside / "shadow").chmod(0o600)
    for index, attack in enumerate(ATTACKS):
        run_dir = results / EVIL_EXPERIMENT / f"20261130-12000{index}-abcdef"
        _hostile_run(run_dir, attack)
    odd = results / EVIL_EXPERIMENT / ODD_RUN
    _hostile_run(odd, SCRIPT)
    (odd / "secret.png").symlink_to(outside / "shadow")
    (odd / "history.csv").unlink()
    (odd / "history.csv").symlink_to(outside / "shadow")
    _write(odd / "own.png", PNG)
    (odd / "own.png").chmod(0o640)
    (results / "linked-experiment").symlink_to(outside)  # a whole directory outside the tree
    (odd / "env.json").unlink()
    os.mkfifo(odd / "env.json")  # a named pipe would block a reader for ever
    sweep = results / EVIL_EXPERIMENT / "sweeps" / "random-0123"
    _write(
        sweep / "sweep.json",
        {
            "status": "done",
            "message": SCRIPT,
            "objective": "<b>val</b>",
            "algorithm": SCRIPT,
            "search_space": {"activation": SCRIPT},
            "overrides": {"note": SCRIPT},
        },
    )
    _write(sweep / "trials.csv", f"trial_id,status,activation,best_objective\n00,COMPLETED,{SCRIPT},0.9\n")
    _write(sweep / "best_config.json", {"trial_id": "00", "overrides": {"activation": SCRIPT}, "config": {}})
    (sweep / "parallel_coordinates.png").symlink_to(outside / "shadow")
    return results


class _Elements(html.parser.HTMLParser):
    """Every element and attribute of a page, as a browser's parser sees them."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]


def _elements(page):
    parser = _Elements()
    parser.feed(page)
    return parser


def _assert_inert(page, results, data_images):
    """No script element, no event handler, every link a fragment or a relative path to a directory in the tree."""
    elements = _elements(page)
    assert "script" not in elements.tags and "iframe" not in elements.tags
    assert not [name for _, name, _ in elements.attributes if name.startswith("on")]
    for _, name, value in elements.attributes:
        if name == "href" and not value.startswith("#"):
            assert urllib.parse.urlsplit(value).scheme == "", value
            target = (results / urllib.parse.unquote(value)).resolve()
            assert target.is_dir() and target.is_relative_to(results.resolve()), value
        if name == "src":
            assert value.startswith("data:image/png;base64,") if data_images else value.startswith("report_files/")


def test_report_of_a_hostile_tree_runs_no_script_and_reads_nothing_outside(hostile_tree):
    html_path, markdown_path = report.build(hostile_tree)
    page, text = html_path.read_text(), markdown_path.read_text()

    _assert_inert(page, hostile_tree, data_images=True)
    links = [value for _, name, value in _elements(page).attributes if name == "href" and not value.startswith("#")]
    assert "javascript%3Aalert%28document.domain%29%252F%252F/odd%20%23%3F%25%20name/" in links
    assert "javascript:" not in "".join(links)
    assert SECRET[len(PNG) :].decode() not in page and "root:" not in text
    assert "linked-experiment" not in page, "a symlinked directory outside the tree is not an experiment"
    copied = {path.name: path for path in (hostile_tree / "report_files").iterdir()}
    assert all(path.read_bytes() != SECRET for path in copied.values())
    [own] = [path for name, path in copied.items() if name.endswith("own.png")]
    assert own.stat().st_mode & 0o777 & ~0o640 == 0, "a copy is readable by more people than its original"
    assert html_path.stat().st_mode & 0o777 & ~0o640 == 0, "report.html embeds it, so it is no wider either"

    for raw in ("<script", "<img", "](javascript:"):
        assert not [line for line in text.splitlines() if raw in line.replace("\\]", "")], raw
    for rendered in (
        markdown.markdown(text, extensions=["tables"]),  # Python-Markdown, as installed with nnlab
        markdown_it.MarkdownIt("commonmark", {"html": True}).enable("table").render(text),  # CommonMark, like GitHub
    ):
        _assert_inert(rendered, hostile_tree, data_images=False)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered, "the recorded text is shown, escaped, not dropped"


@pytest.mark.parametrize(
    "target, expected",
    [
        ("mnist/20261130-120000-abcdef/", "mnist/20261130-120000-abcdef/"),
        ("a b/c#d?e%f/", "a%20b/c%23d%3Fe%25f/"),
        ("javascript:alert(1)", "javascript%3Aalert%281%29"),
        ("/etc/passwd", ""),
        ("../outside/", ""),
        ("mnist/../../x", ""),
        ("//evil.example/x", ""),
        ("a\\b", ""),
        ("a\nb", ""),
    ],
)
def test_links_are_relative_paths_in_the_tree_percent_encoded(target, expected):
    assert render.safe_href(target) == expected


def test_markdown_text_renders_as_the_same_text():
    hostile = "a|b [x](y) <i>&amp; `code` *em* \\"
    rendered = markdown.markdown(render.md_text(hostile), extensions=["tables"])
    assert _elements(rendered).tags == ["p"]
    assert html.unescape(rendered.removeprefix("<p>").removesuffix("</p>")) == hostile
    with_code = render._md_with_code(f"run `{SCRIPT}` then {SCRIPT}")
    assert _elements(markdown.markdown(with_code)).tags == ["p", "code"]
    assert "\n" not in render.md_text("two\nlines")


def test_a_symlinked_file_is_not_read_by_the_run_reader(hostile_tree):
    from nnlab.report import read

    run = read.read_run(EVIL_EXPERIMENT, hostile_tree / EVIL_EXPERIMENT / ODD_RUN)
    assert run.history is None and any("outside its directory" in problem for problem in run.problems)
    assert [path.name for path in run.images()] == ["own.png"]
    assert Path(hostile_tree / EVIL_EXPERIMENT / ODD_RUN / "secret.png").read_bytes() == SECRET  # the link is real


def test_chromium_runs_nothing_and_fetches_nothing_from_the_hostile_report(hostile_tree, tmp_path):
    """The real browser: report.html, and report.md as Python-Markdown renders it, load with no script error and
    no request but the page itself, its data: images and report_files/ (an injected <img src=x> would ask for x)."""
    from tests.report import browser

    try:
        browser.ensure_chromium()
    except browser.BrowserError as error:
        pytest.skip(str(error))
    html_path, markdown_path = report.build(hostile_tree)
    rendered = hostile_tree / "report-md.html"
    rendered.write_text(markdown.markdown(markdown_path.read_text(), extensions=["tables"]))
    for page in (html_path, rendered):
        seen = browser.render(page, tmp_path / page.stem, max_height=2000)
        assert not seen.errors, seen.errors
        foreign = [
            url
            for url in seen.requests
            if not url.startswith("data:") and url != page.as_uri() and "/report_files/" not in url
        ]
        assert not foreign, foreign
