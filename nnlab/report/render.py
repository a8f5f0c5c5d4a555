"""Render the report's blocks (nnlab.report.blocks) as one self-contained HTML page or as Markdown.

The HTML embeds every image as a data: URI and has no script, so it opens offline from anywhere. The Markdown
links images under `report_files/`, which the caller writes beside it. Both start with the same table of contents,
linked by GitHub's heading anchors so the Markdown's links work on a Git host too.

Every string of every block passes through `shown` before either renderer sees it: hidden characters (bidi
overrides, zero-width and control characters) written as \\uXXXX, and a value longer than TEXT_MAX_CHARS cut, so
no section can show `run\\u202egnp.exe` as `runexe.png` or embed a 50 MB override.
"""

import base64
import dataclasses
import html
import os
import re
import urllib.parse

from nnlab.report import blocks as doc
from nnlab.results import text as recorded

CONTENTS_LEVELS = (2, 3)
LONG_CELL = 32  # characters; longer cells (notes, commands, paths) may break anywhere, others only at spaces
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1280px;
       padding: 0 1.5em; color: #1b1f24; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; } h4 { margin-top: 1.2em; color: #424a53; }
.scroll { overflow-x: auto; margin: .6em 0 1em; }
table { border-collapse: collapse; font-size: 12.5px; }
caption { caption-side: bottom; text-align: left; color: #57606a; padding-top: .3em; }
th, td { border: 1px solid #d0d7de; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td { font-variant-numeric: tabular-nums; } td:first-child { white-space: nowrap; }
td.text { min-width: 12em; max-width: 32em; overflow-wrap: anywhere; }
tr:nth-child(even) td { background: #fbfcfd; }
td.done { color: #1a7f37; } td.failed { color: #cf222e; font-weight: 600; } td.missing { color: #9a6700; }
td.running, td.unknown, td.interrupted { color: #9a6700; }
td.best { font-weight: 700; background: #dafbe1 !important; }
.note { background: #fff8c5; border-left: 4px solid #d4a72c; padding: .4em .8em; }
pre { background: #f6f8fa; padding: .6em .9em; overflow-x: auto; }
figure { margin: 1em 0 1.6em; } figure img { max-width: 100%; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 12.5px; }
nav ul { margin: .3em 0; } nav li { margin: .1em 0; }
"""


def github_anchor(text):
    """The id GitHub gives a Markdown heading: lower case, punctuation dropped, spaces made '-'."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(blocks):
    """{id(heading): anchor} with GitHub's numbering of repeats ('runs', 'runs-1', ...), so links work in both."""
    seen, result = {}, {}
    for block in blocks:
        if isinstance(block, doc.Heading):
            base = github_anchor(block.text)
            result[id(block)] = f"{base}-{seen[base]}" if base in seen else base
            seen[base] = seen.get(base, 0) + 1
    return result


def contents(blocks, ids):
    """[(level, text, anchor)] for the headings listed in the table of contents."""
    return [
        (block.level, block.text, ids[id(block)])
        for block in blocks
        if isinstance(block, doc.Heading) and block.level in CONTENTS_LEVELS
    ]


def shown(value):
    """A string as the report shows it: hidden characters as \\uXXXX (text.visible), then cut at TEXT_MAX_CHARS."""
    return recorded.clip(recorded.visible(value))


def shown_block(block):
    """`block` with every string it displays passed through `shown` (a Code block line by line)."""
    if isinstance(block, doc.Table):
        rows = [[_shown_cell(cell) for cell in row] for row in block.rows]
        return doc.Table([shown(column) for column in block.columns], rows, shown(block.caption))
    if isinstance(block, doc.Figure):
        return dataclasses.replace(block, caption=shown(block.caption))
    if isinstance(block, doc.Code):
        return doc.Code("\n".join(recorded.clip(line) for line in recorded.visible(block.text).split("\n")))
    return dataclasses.replace(block, text=shown(block.text))


def _shown_cell(cell):
    if isinstance(cell, doc.Cell):
        return dataclasses.replace(cell, text=shown(cell.text))
    return shown(cell)


def to_html(title, blocks):
    return "".join(html_parts(title, blocks))


def html_parts(title, blocks):
    """The HTML page in pieces, one block (one embedded image) at a time, for writing without holding it whole."""
    title, blocks = shown(title), [shown_block(block) for block in blocks]
    yield "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{_e(title)}</h1>",
        ]
    )
    ids = anchors(blocks)
    entries = contents(blocks, ids)
    if entries:
        items = "".join(
            f'<li style="margin-left:{(level - 2) * 1.5}em"><a href="#{anchor}">{_e(text)}</a></li>'
            for level, text, anchor in entries
        )
        yield f"\n<nav><strong>Contents</strong><ul>{items}</ul></nav>"
    for block in blocks:
        yield "\n" + _html_block(block, ids)
    yield "\n</body></html>\n"


def _html_block(block, ids):
    if isinstance(block, doc.Heading):
        return f'<h{block.level} id="{ids[id(block)]}">{_e(block.text)}</h{block.level}>'
    if isinstance(block, doc.Text):
        return f"<p>{_inline_code(_e(block.text))}</p>"
    if isinstance(block, doc.Note):
        return f'<p class="note">{_inline_code(_e(block.text))}</p>'
    if isinstance(block, doc.Code):
        return f"<pre><code>{_e(block.text)}</code></pre>"
    if isinstance(block, doc.Figure):
        source = f"data:{block.mime};base64,{base64.b64encode(block.data).decode('ascii')}"
        return (
            f'<figure><img src="{source}" alt="{_e(block.caption)}" loading="eager">'
            f"<figcaption>{_e(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, doc.Table):
        head = "".join(f"<th>{_e(column)}</th>" for column in block.columns)
        body = "".join("<tr>" + "".join(_html_cell(cell) for cell in row) + "</tr>" for row in block.rows)
        caption = f"<caption>{_e(block.caption)}</caption>" if block.caption else ""
        return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    raise TypeError(f"unknown report block {type(block).__name__}")


def _html_cell(cell):
    cell = cell if isinstance(cell, doc.Cell) else doc.Cell(str(cell))
    target = safe_href(cell.href)
    text = f'<a href="{_e(target)}">{_e(cell.text)}</a>' if target else _e(cell.text)
    classes = [re.sub(r"[^a-z-]", "", cell.style.lower())]
    if len(cell.text) > LONG_CELL:
        classes.append("text")
    css = " ".join(name for name in classes if name)
    return f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>"


def to_markdown(title, blocks, files_dir):
    """Markdown for `blocks`; figures are linked as `<files_dir>/<figure name>` (written by the caller).

    Every recorded string is escaped (md_text), so no HTML tag, link or image in a config value, metric name or
    message passes through, whichever renderer shows the file: GitHub's or Python-Markdown.
    """
    title, blocks = shown(title), [shown_block(block) for block in blocks]
    lines = [f"# {md_text(title)}", ""]
    entries = contents(blocks, anchors(blocks))
    if entries:
        lines += ["**Contents**", ""]
        lines += [f"{'  ' * (level - 2)}- [{md_text(text)}](#{anchor})" for level, text, anchor in entries]
        lines.append("")
    for block in blocks:
        lines += _markdown_block(block, files_dir) + [""]
    return "\n".join(lines)


def _markdown_block(block, files_dir):
    if isinstance(block, doc.Heading):
        return ["#" * block.level + " " + md_text(block.text)]
    if isinstance(block, doc.Text):
        return [_md_with_code(block.text)]
    if isinstance(block, doc.Note):
        return [f"> **Note:** {_md_with_code(block.text)}"]
    if isinstance(block, doc.Code):  # indented, not fenced: literal in every renderer, whatever the text holds
        return ["    " + line for line in block.text.splitlines() or [""]]
    if isinstance(block, doc.Figure):
        target = safe_href(f"{files_dir}/{block.name}")
        return [f"![{md_text(block.caption)}]({target})", "", f"*{md_text(block.caption)}*"]
    if isinstance(block, doc.Table):
        lines = [
            "| " + " | ".join(md_text(column) for column in block.columns) + " |",
            "|" + "---|" * len(block.columns),
        ]
        lines += ["| " + " | ".join(_md_cell(cell) for cell in row) + " |" for row in block.rows]
        return lines + (["", f"*{md_text(block.caption)}*"] if block.caption else [])  # a blank line ends a table
    raise TypeError(f"unknown report block {type(block).__name__}")


def _md_cell(cell):
    if not isinstance(cell, doc.Cell):
        return md_text(cell)
    text = md_text(cell.text)
    target = safe_href(cell.href)
    text = f"[{text}]({target})" if target else text
    return f"**{text}**" if cell.style in ("best", "failed") else text


# Markdown's active characters: a backslash escapes the punctuation; < > & become entities, because
# Python-Markdown does not honour a backslash before '<' and would pass a tag through.
_MD_ESCAPES = {"\\": "\\\\", "`": "\\`", "*": "\\*", "[": "\\[", "]": "\\]", "|": "\\|"}
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def md_text(value):
    """A recorded string as Markdown that renders as exactly that text: one line, no tag, link or emphasis.

    A newline would end a table row or a paragraph, a pipe a cell; brackets could open a link or an image,
    and '<' a tag or an autolink.
    """
    text = re.sub(r"\s*\n\s*", " ", str(value))
    return "".join(_MD_ENTITIES.get(char) or _MD_ESCAPES.get(char) or char for char in text)


def _md_with_code(text):
    """Escape text whose `backticked` parts are code spans: those stay literal code, the rest is md_text."""
    parts = re.split(r"`([^`\n]+)`", re.sub(r"\s*\n\s*", " ", str(text)))
    return "".join(f"`{part}`" if index % 2 else md_text(part) for index, part in enumerate(parts))


def safe_href(target):
    """A link target by allowlist: a relative path inside the results tree, each segment percent-encoded.

    Anything else (a scheme such as javascript:, an absolute path, '..', a backslash) gives '' and no link. The
    builders pass plain directory names; encoding them here is what turns '#', '?', '%', ' ' and ':' in a
    directory's name into a working link rather than a broken one or another scheme.
    """
    target = str(target or "")
    if not target or target.startswith("/") or "\\" in target or any(ord(char) < 32 for char in target):
        return ""
    segments = target.split("/")
    if any(segment in (".", "..") for segment in segments) or any(not segment for segment in segments[:-1]):
        return ""
    try:  # a directory name's bytes that are not UTF-8 (os.fsdecode's \udcXX) are encoded as the bytes they were
        return "/".join(urllib.parse.quote(os.fsencode(segment), safe="") for segment in segments)
    except UnicodeEncodeError:  # a lone surrogate no file name holds
        return ""


def _e(value):
    return html.escape(str(value), quote=True)


def _inline_code(escaped):
    """`text` in backticks as <code>, matching what Markdown shows."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
