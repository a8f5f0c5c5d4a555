"""The package's layout rules (shared/design/layout.md), checked on the source: import direction, no circles, no
TensorFlow in the readers, and every run/sweep file name spelled once, in nnlab/results/layout.py."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nnlab"

# Which parts of nnlab may not import which (imports inside functions count). The floor (results, plots,
# reference, config, data, errors) stands under every wing; the report reads files only.
FORBIDDEN = {
    "nnlab.results": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli", "nnlab.experiment"),
    "nnlab.plots": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli", "nnlab.experiment"),
    "nnlab.reference": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli"),
    "nnlab.config": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli", "nnlab.experiment"),
    "nnlab.field_types": (
        "nnlab.train",
        "nnlab.sweeps",
        "nnlab.report",
        "nnlab.cli",
        "nnlab.experiment",
        "nnlab.config",
    ),
    "nnlab.data": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli", "nnlab.experiment"),
    "nnlab.errors": ("nnlab.",),
    "nnlab.experiment": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli"),
    "nnlab.search_space": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli"),
    "nnlab.datasets": ("nnlab.train", "nnlab.sweeps", "nnlab.report", "nnlab.cli"),
    "nnlab.report": ("nnlab.train", "nnlab.sweeps", "nnlab.cli"),
    "nnlab.train": ("nnlab.sweeps", "nnlab.report", "nnlab.cli"),
    "nnlab.sweeps": ("nnlab.report", "nnlab.cli", "nnlab.train.runner"),
}
# Only the command and the package face start a run.
RUN_ENTRY = "nnlab.train.runner"
MAY_START_RUNS = {"nnlab.cli", "nnlab", "nnlab.train"}


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules():
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path, known):
    """Every nnlab module `path` imports, anywhere in the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("nnlab")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nnlab") and not node.level:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found


@pytest.fixture(scope="module")
def graph():
    known = modules()
    return {name: imports(path, known) & set(known) for name, path in known.items()}


def test_no_import_circle(graph):
    visiting, done, circles = [], set(), []

    def visit(name):
        if name in visiting:
            circles.append(visiting[visiting.index(name) :] + [name])
            return
        if name in done:
            return
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert not circles, "import circles: " + "; ".join(" -> ".join(circle) for circle in circles)


def test_imports_flow_downwards(graph):
    wrong = []
    for name, targets in graph.items():
        for part, banned in FORBIDDEN.items():
            if name == part or name.startswith(part + "."):
                wrong += [f"{name} -> {target}" for target in targets if target.startswith(banned)]
        if RUN_ENTRY in targets and name not in MAY_START_RUNS:
            wrong.append(f"{name} -> {RUN_ENTRY} (only the command and the package face start runs)")
    assert not wrong, "imports against the layout: " + ", ".join(sorted(wrong))


def test_top_level_stays_small():
    top = [path for path in PACKAGE.glob("*.py")]
    assert len(top) <= 12, sorted(path.name for path in top)


@pytest.mark.parametrize("module", ["nnlab", "nnlab.report", "nnlab.results", "nnlab.sweeps.tables", "nnlab.plots"])
def test_readers_do_not_import_tensorflow(module):
    code = f"import sys, {module}, nnlab.report.writer, nnlab.results.layout; print('tensorflow' in sys.modules)"
    if module in ("nnlab.sweeps.tables", "nnlab.plots"):
        code = f"import sys, {module}; print('tensorflow' in sys.modules, 'keras_tuner' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "True" not in result.stdout, f"importing {module} loads TensorFlow or keras-tuner"


FILE_NAME = re.compile(r"""["'][\w{}*.-]+\.(json|csv|keras|npz|h5)["']""")


def test_run_and_sweep_file_names_are_spelled_only_in_layout():
    """Writers and readers take run/sweep file names from results/layout.py (data caches and suffixes aside)."""
    spelled = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "layout.py" or "datasets" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            for match in FILE_NAME.finditer(code):
                if match.group(0)[1] != ".":  # ".keras" and the like are suffixes, not names
                    spelled.append(f"{path.relative_to(PACKAGE)}:{number}: {match.group(0)}")
    assert not spelled, "file names outside results/layout.py:\n" + "\n".join(spelled)
