"""Read-only and full file systems (a run, a sweep, a report): one `nnlab: error:` paragraph, exit code 2.

Tests run as root, for whom chmod does not make a directory read-only, so the file systems are real: small tmpfs
mounts inside a private mount namespace (`unshare -m`), gone when the script ends.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.tiny import TINY

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare for private tmpfs mounts"
)

SCRIPT = """
set -u
mkdir -p "$ROOT/ro" "$ROOT/full" "$ROOT/sweep" "$ROOT/report" "$ROOT/out"
mount -t tmpfs -o size=1m tmpfs "$ROOT/ro" && mount -o remount,ro "$ROOT/ro"
mount -t tmpfs -o size=40k tmpfs "$ROOT/full"
mount -t tmpfs -o size=40k tmpfs "$ROOT/sweep"
mount -t tmpfs -o size=1m tmpfs "$ROOT/report"
cp -r "$SEED/." "$ROOT/report/"
dd if=/dev/zero of="$ROOT/report/filler" bs=4k 2>/dev/null
for case in ro full; do
  "$PYTHON" -m nnlab.cli --results "$ROOT/$case" run tiny epochs=2 > "$ROOT/out/$case.log" 2>&1
  echo $? > "$ROOT/out/$case.rc"
done
"$PYTHON" -m nnlab.cli --results "$ROOT/sweep" tune tiny max_trials=1 epochs=1 > "$ROOT/out/sweep.log" 2>&1
echo $? > "$ROOT/out/sweep.rc"
"$PYTHON" -m nnlab.cli --results "$ROOT/report" report > "$ROOT/out/report.log" 2>&1
echo $? > "$ROOT/out/report.rc"
cat "$ROOT"/full/tiny/*/status.json > "$ROOT/out/full-status.json" 2>/dev/null
true
"""


def _seed_tree(results):
    run_dir = results / "tiny" / "20261130-120000-abcdef"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"epochs": 2}, "overrides": {}}))
    (run_dir / "status.json").write_text(json.dumps({"status": "done"}))
    (run_dir / "metrics.json").write_text(json.dumps({"final": {"loss": 0.4}, "train_seconds": 1.0}))
    (run_dir / "history.csv").write_text("epoch,loss,val_loss\n0,0.6,0.7\n1,0.4,0.5\n")


def test_read_only_and_full_disks_give_one_paragraph(tmp_path, make_experiment):
    make_experiment("tiny", TINY)
    _seed_tree(tmp_path / "seed")
    environment = {
        **os.environ,
        "ROOT": str(tmp_path / "mnt"),
        "SEED": str(tmp_path / "seed"),
        "PYTHON": sys.executable,
    }
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    done = subprocess.run(["unshare", "-m", "sh", "-c", SCRIPT], env=environment, capture_output=True, timeout=300)
    out = tmp_path / "mnt" / "out"
    if not (out / "report.rc").exists():
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode()[-300:]}")
    expected = {
        "ro": "the file system is read-only",
        "full": "(No space left on device): the disk is full. Free space there and run the same command again",
        "sweep": "the disk is full. Free space there and run the same command again",
        "report": "the disk is full",
    }
    for case, advice in expected.items():
        log = (out / f"{case}.log").read_text()
        errors = [line for line in log.splitlines() if line.startswith("nnlab: error:")]
        assert (out / f"{case}.rc").read_text().strip() == "2", log
        assert len(errors) == 1 and "Traceback" not in log and advice in errors[0], log
    assert "/mnt/full/tiny/" in (out / "full.log").read_text(), "the full disk's message names the file"
    status = (out / "full-status.json").read_text()
    assert '"running"' not in status, "a run stopped by a full disk must not stay `running`"


def test_tensorflows_own_wording_of_a_file_system_error_is_recognised():
    """TensorFlow says '<path> is not a directory' (lower case) where the OS says 'Not a directory': a file where a
    run's tensorboard/ folder should be is the environment paragraph, not a traceback."""
    import tensorflow as tf

    from nnlab.errors import from_os_error

    error = tf.errors.FailedPreconditionError(None, None, "/r/linefit/run/tensorboard is not a directory")
    said = str(from_os_error(error))
    assert "tensorboard is not a directory" in said and "a part of that path is a file, not a directory" in said
