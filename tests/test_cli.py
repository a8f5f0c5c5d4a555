"""The `nnlab` command as a user types it: errors are one paragraph, exit non-zero, no traceback."""

import subprocess
import sys


def nnlab(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "nnlab.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_unknown_override_is_one_clear_paragraph(repo_experiments, tmp_path):
    result = nnlab("--results", str(tmp_path / "results"), "run", "mnist", "widht=256", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    message = [line for line in result.stderr.splitlines() if line.startswith("nnlab: error:")]
    assert len(message) == 1 and "unknown config field 'widht'" in message[0] and "width" in message[0]
    assert not (tmp_path / "results").exists()


def test_unknown_experiment(repo_experiments, tmp_path):
    result = nnlab("run", "mnsit", cwd=tmp_path)
    assert result.returncode == 2 and "No experiment named 'mnsit'" in result.stderr and "mnist" in result.stderr


def test_list_shows_each_experiment(repo_experiments, tmp_path):
    result = nnlab("list", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("mnist") or "\nmnist" in result.stdout
