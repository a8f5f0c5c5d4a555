"""`nnlab run <exp> --processes N`: N local training processes forming one MultiWorkerMirroredStrategy cluster on
loopback, the same mode as N machines sharing a results directory.

The launcher decides the run id, creates the run directory (config.json, status.json) and hands the id to every
worker through NNLAB_RUN_ID; worker 0, the chief, prints to this terminal and writes what training produces; the
others' output goes to workers/<index>.log. When a worker dies the others stop by themselves within
NNLAB_WORKER_TIMEOUT (nnlab.train.cluster); the launcher waits that long plus a grace, kills what is left, and
marks the run failed.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from nnlab import config as config_lib
from nnlab import experiment as experiment_lib
from nnlab.errors import NnlabError
from nnlab.results import bounded, layout, rundir
from nnlab.train import cluster

POLL_SECONDS = 0.2
GRACE_SECONDS = 15  # beyond the worker timeout, for a stopping worker to write its record and exit


@dataclasses.dataclass
class LaunchResult:
    run_dir: Path
    metrics: dict  # the chief's metrics.json


MEMORY_PER_PROCESS = 1 << 30  # a worker's TensorFlow with a small model and its data, rounded up
CORE_SHARE = 4  # workers per core beyond which their heartbeats and collectives starve


def check_processes(processes, cpu_count=None, available_memory=None):
    """N must be at least 1 and fit the machine: each process runs its own TensorFlow, which needs about
    MEMORY_PER_PROCESS, and more than CORE_SHARE processes per core starve each other's collectives."""
    cores = cpu_count or os.cpu_count() or 1
    memory = available_memory if available_memory is not None else _available_memory()
    if processes < 1:
        raise NnlabError(f"--processes {processes}: give the number of training processes, at least 1 (e.g. 2).")
    if processes > cores * CORE_SHARE:
        raise NnlabError(
            f"--processes {processes}: this machine has {cores} CPU core(s), and more than {CORE_SHARE} training "
            f"processes per core (each its own TensorFlow) starve each other until their collectives time out; "
            f"use at most --processes {cores * CORE_SHARE}."
        )
    if memory is not None and processes * MEMORY_PER_PROCESS > memory:
        raise NnlabError(
            f"--processes {processes}: this machine has {memory / 2**30:.1f} GiB of memory available and each "
            f"training process (its own TensorFlow) needs about {MEMORY_PER_PROCESS / 2**30:.0f} GiB; use at most "
            f"--processes {max(1, memory // MEMORY_PER_PROCESS)}, or free memory."
        )


def _available_memory():
    """MemAvailable from /proc/meminfo in bytes, or None where there is no such file (not Linux)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_processes(name, overrides, processes, results_dir="results", resume=False, experiments_dir=None):
    """Train experiment `name` as `processes` local workers; returns a LaunchResult.

    Raises:
      NnlabError: bad input before anything is written, or a worker failed (the run is marked failed).
    """
    from nnlab.train import devices

    check_processes(processes)
    if os.environ.get(cluster.TF_CONFIG):
        raise NnlabError(f"--processes builds its own cluster; unset {cluster.TF_CONFIG} or drop --processes.")
    timeout = cluster.worker_timeout()
    experiment = experiment_lib.load(name, experiments_dir)
    config = experiment.config(overrides)  # bad overrides fail before anything is written
    devices.check_batch_size(config.batch_size, processes, experiment.path)  # at least one replica per process
    record = config_lib.run_record(name, config, experiment.config_class())
    run_dir = rundir.open_run(results_dir, name, record, resume)
    run_dir.set_status("running", processes=processes)
    (run_dir.path / Path(layout.worker_log(0)).parent).mkdir(exist_ok=True)
    command = [sys.executable, "-m", "nnlab.cli", "--results", str(results_dir), "run", name, *overrides]
    addresses = [f"localhost:{port}" for port in free_ports(processes)]
    base = {**os.environ, cluster.RUN_ID: run_dir.run_id, "NNLAB_EXPERIMENTS": str(experiment.path.parent.resolve())}
    workers = []
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for index in range(processes):
            env = {**base, cluster.TF_CONFIG: tf_config(addresses, index)}
            log = None if index == 0 else open(run_dir.file(layout.worker_log(index)), "a")
            workers.append(
                subprocess.Popen(
                    command,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT if log else None,
                    preexec_fn=_die_with_launcher,
                )
            )
            if log:
                log.close()
        failure = supervise(workers, timeout + GRACE_SECONDS)
    except BaseException as error:
        _kill(workers)
        run_dir.set_status("failed", message=f"launcher stopped: {type(error).__name__}: {error}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    if failure:
        message = f"{failure} See {run_dir.path / 'workers'} and the output above."
        run_dir.set_status("failed", message=message)
        raise NnlabError(f"{message} [run {run_dir.path} marked failed]")
    run_dir.set_status("done", processes=processes)
    metrics = bounded.read_json(run_dir.file(layout.METRICS))
    return LaunchResult(run_dir=run_dir.path, metrics=metrics)


def tf_config(addresses, index):
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})


def free_ports(count):
    """`count` distinct ports nothing listens on now (held open together so they differ)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("localhost", 0))
            probes.append(probe)
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def supervise(workers, stop_within):
    """Wait for every worker; returns None when all succeeded, else what went wrong. After the first failure the
    others get `stop_within` seconds to stop by themselves before they are killed."""
    first_failure, failed_at = None, None
    while any(worker.poll() is None for worker in workers):
        time.sleep(POLL_SECONDS)
        for index, worker in enumerate(workers):
            if first_failure is None and worker.poll() not in (None, 0):
                first_failure, failed_at = f"worker {index} exited with status {worker.returncode}.", time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > stop_within:
            still = [index for index, worker in enumerate(workers) if worker.poll() is None]
            _kill(workers)
            return f"{first_failure} Workers {still} did not stop within {stop_within:g} s and were killed."
    if first_failure is None:
        bad = [(index, worker.returncode) for index, worker in enumerate(workers) if worker.returncode != 0]
        first_failure = f"worker {bad[0][0]} exited with status {bad[0][1]}." if bad else None
    if first_failure:
        stopped = [f"worker {i}: {w.returncode}" for i, w in enumerate(workers)]
        return f"{first_failure} Exit statuses: {', '.join(stopped)}."
    return None


def _kill(workers):
    for worker in workers:
        if worker.poll() is None:
            worker.kill()  # a worker blocked inside a collective ignores SIGTERM
    for worker in workers:
        worker.wait(timeout=30)


def _die_with_launcher():
    """In each worker before it starts (Linux): SIGKILL it when the launcher dies, however it dies. A launcher
    killed by SIGKILL (a test's timeout, the OOM killer) otherwise leaves workers blocked in a collective,
    ignoring SIGTERM, for ever."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the launcher's own watch still kills workers when it stops normally


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
