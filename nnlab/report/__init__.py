"""The `nnlab report` wing: one self-contained HTML page and a Markdown twin over a results directory.

Entry: `build(results_dir)` (in `writer`). The report reads files only (`read`), never imports TensorFlow, and
describes what it shows as blocks (`blocks`) that `render` turns into HTML or Markdown; `runs`, `sweeps`,
`compare` and `repro` make the sections.
"""


def __getattr__(name):
    # Lazy, and in a module not named `build`, so that importing the writer does not shadow this function.
    if name == "build":
        from nnlab.report.writer import build

        return build
    raise AttributeError(f"module 'nnlab.report' has no attribute {name!r}")
