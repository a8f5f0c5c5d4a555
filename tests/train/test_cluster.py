"""Several workers: TF_CONFIG checks, `--processes N` on loopback (identical weights, one run directory), a worker
killed mid-run, an unreachable peer, and bad --processes values. Each cluster costs fresh TensorFlow processes, so
the runs are tiny (two features, one epoch) and each test checks all it can from one run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from nnlab.errors import NnlabError
from nnlab.train import cluster, launch
from tests.tiny import TINY


@pytest.fixture
def tiny(make_experiment):
    return make_experiment("tiny", TINY)


def nnlab(results_dir, *args, env=None, timeout=240):
    command = [sys.executable, "-m", "nnlab.cli", "--results", str(results_dir), *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


def spec(workers, index, job="worker"):
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": job, "index": index}})


@pytest.mark.parametrize(
    "tf_config, expected",
    [
        ("{not json", "not valid JSON"),
        ('{"cluster": {"worker": ["localhost:1", "localhost:2"]}}', "needs a 'cluster' and a 'task'"),
        (spec(["localhost:1", "localhost:2"], 2), "outside the cluster"),
        (spec(["localhost:1", "localhost:2"], 0, job="ps"), "outside the cluster"),
        (json.dumps({"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}), "no other task types"),
        (spec(["localhost", "localhost:2"], 0), "must be host:port"),
        (spec(["no-such-host.invalid:1", "localhost:2"], 0), "does not resolve"),
    ],
)
def test_bad_tf_config_is_one_paragraph(tf_config, expected):
    with pytest.raises(NnlabError, match=expected):
        cluster.membership({"TF_CONFIG": tf_config, "NNLAB_RUN_ID": "run"})


def test_membership_needs_a_run_id_and_ranks_the_chief_first():
    two = spec(["localhost:1", "localhost:2"], 1)
    with pytest.raises(NnlabError, match="NNLAB_RUN_ID is unset"):
        cluster.membership({"TF_CONFIG": two})
    member = cluster.membership({"TF_CONFIG": two, "NNLAB_RUN_ID": "r1"})
    assert (member.rank, member.size, member.is_chief, member.run_id) == (1, 2, False, "r1")
    with_chief = json.dumps(
        {"cluster": {"chief": ["localhost:1"], "worker": ["localhost:2"]}, "task": {"type": "worker", "index": 0}}
    )
    assert cluster.membership({"TF_CONFIG": with_chief, "NNLAB_RUN_ID": "r"}).rank == 1
    assert cluster.membership({"TF_CONFIG": spec(["localhost:1"], 0)}) is None  # one worker: no cluster
    assert cluster.membership({}) is None


@pytest.mark.parametrize("value", ["0", "-3", "abc"])
def test_bad_worker_timeout(value):
    with pytest.raises(NnlabError, match="NNLAB_WORKER_TIMEOUT"):
        cluster.worker_timeout({"NNLAB_WORKER_TIMEOUT": value})
    assert cluster.worker_timeout({}) == 60


def test_processes_must_fit_the_machine():
    with pytest.raises(NnlabError, match="at least 1"):
        launch.check_processes(0)
    with pytest.raises(NnlabError, match="this machine has 2 CPU core.*at most --processes 8"):
        launch.check_processes(9, cpu_count=2, available_memory=64 << 30)
    with pytest.raises(NnlabError, match="1.5 GiB of memory available.*at most --processes 1"):
        launch.check_processes(2, cpu_count=2, available_memory=3 << 29)
    launch.check_processes(8, cpu_count=2, available_memory=64 << 30)


def test_free_ports_differ_even_when_one_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("localhost", 0))
        taken.listen()
        ports = launch.free_ports(3)
        assert len(set(ports)) == 3 and taken.getsockname()[1] not in ports


def run_dirs(results_dir):
    return sorted(path for path in (results_dir / "tiny").iterdir() if path.is_dir())


def test_two_processes_a_killed_worker_and_resume(tiny, results_dir):
    """One cluster run serves every check (each costs two TensorFlow start-ups): killing worker 1 mid-run stops
    worker 0 by itself within the timeout and fails the run; --resume continues that run directory to the end,
    with identical weights on both workers and MultiWorkerMirroredStrategy over 2 workers in env.json."""
    timeout = 10
    command = [sys.executable, "-m", "nnlab.cli", "--results", str(results_dir), "run", "tiny", "--processes", "2"]
    command += ["epochs=60", "examples=2000"]  # a few tenths of a second per epoch here: killed well before the end
    env = {**os.environ, "NNLAB_WORKER_TIMEOUT": str(timeout)}
    launcher = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and launcher.poll() is None:
            history = list(results_dir.glob("tiny/*/history.csv"))
            if history and len(history[0].read_text().splitlines()) > 3:  # both workers are training
                break
            time.sleep(0.5)
        [run_dir] = run_dirs(results_dir)
        worker = subprocess.run(["pgrep", "-f", "-P", str(launcher.pid), "nnlab.cli"], capture_output=True, text=True)
        pids = [int(pid) for pid in worker.stdout.split()]
        assert len(pids) == 2, worker.stdout
        victim = max(pids)  # worker 1 was started last
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        output, _ = launcher.communicate(timeout=timeout + launch.GRACE_SECONDS + 60)
        stopped_after = time.monotonic() - killed_at
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert launcher.returncode == 2, output[-3000:]
    assert "Traceback" not in output.split("nnlab: error:")[-1]
    assert "another worker of the cluster stopped" in output, output[-3000:]  # worker 0 said why, by itself
    assert stopped_after < timeout + 10, stopped_after
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "worker 1 exited with status -9" in status["message"]

    resumed = nnlab(results_dir, *command[5:], "--resume", env={"NNLAB_WORKER_TIMEOUT": str(timeout)})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert run_dirs(results_dir) == [run_dir]  # the same run, continued
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["resumed_at_epoch"] > 0 and metrics["epochs_run"] == 60
    epochs = [line.split(",")[0] for line in (run_dir / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [str(epoch) for epoch in range(60)]
    records = [json.loads((run_dir / "workers" / f"{rank}.json").read_text()) for rank in (0, 1)]
    assert [record["status"] for record in records] == ["done", "done"]
    assert records[0]["weights_sha256"] == records[1]["weights_sha256"]
    assert json.loads((run_dir / "status.json").read_text())["status"] == "done"
    environment = json.loads((run_dir / "env.json").read_text())
    assert (environment["strategy"], environment["workers"], environment["replicas"]) == (
        "MultiWorkerMirroredStrategy",
        2,
        2,
    )
    assert environment["per_replica_batch_size"] * 2 == environment["global_batch_size"]
    assert (run_dir / "model.keras").exists() and not list(run_dir.glob("checkpoint*"))
    assert sorted(path.name for path in (run_dir / "workers").iterdir()) == ["0.json", "1.json", "1.log"]


def test_an_unreachable_peer_is_an_error_within_the_timeout(tiny, results_dir):
    started = time.monotonic()
    tf_config = spec([f"localhost:{launch.free_ports(1)[0]}", "localhost:1"], 0)  # nobody listens on port 1
    env = {"TF_CONFIG": tf_config, "NNLAB_RUN_ID": "lonely", "NNLAB_WORKER_TIMEOUT": "3"}
    result = nnlab(results_dir, "run", "tiny", "epochs=1", env=env, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "did not form within NNLAB_WORKER_TIMEOUT=3 s: nothing answers at localhost:1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (results_dir / "tiny").exists()  # nothing half-written
    assert time.monotonic() - started < 90


@pytest.mark.parametrize(
    "arguments, environment, expected",
    [
        (["--processes", "0"], {}, "--processes 0: give the number of training processes"),
        (["--processes", "100000"], {}, "--processes 100000: this machine has"),
        (["--processes", "2", "batch_size=33"], {}, "split evenly over the 2 replicas"),
        (["--processes", "2"], {"TF_CONFIG": spec(["a:1", "b:2"], 0)}, "unset TF_CONFIG or drop --processes"),
        ([], {"TF_CONFIG": "{oops", "NNLAB_RUN_ID": "r"}, "TF_CONFIG is not valid JSON"),
        ([], {"TF_CONFIG": spec(["localhost:1", "localhost:2"], 5), "NNLAB_RUN_ID": "r"}, "outside the cluster"),
    ],
)
def test_bad_cluster_input_is_exit_2_and_writes_nothing(
    tiny, results_dir, monkeypatch, capsys, arguments, environment, expected
):
    """In this process (the checks run before TensorFlow starts): the command's exit status and message."""
    from nnlab import cli

    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    code = cli.main(["--results", str(results_dir), "run", "tiny", "epochs=1", *arguments])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith("nnlab: error: ") and expected in error, error
    assert "Traceback" not in error and error.count("\n") == 1
    assert not (results_dir / "tiny").exists()
