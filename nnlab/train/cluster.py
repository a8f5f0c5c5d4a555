"""Several machines (or several local processes) training one model: MultiWorkerMirroredStrategy from TF_CONFIG.

Every worker runs the same `nnlab run` with its own TF_CONFIG task and the same NNLAB_RUN_ID, over a results
directory they share. Worker 0, the chief, writes the run directory; the others write only workers/<index>.json.

Measured with TensorFlow 2.21 on loopback: the first worker of a cluster whose peer never starts waits forever
inside the strategy's constructor, ignoring SIGTERM and holding the interpreter (no Python timer can fire); a
worker whose peer is SIGKILLed mid-step gets an UnavailableError once the coordination service misses the peer's
heartbeats. So nnlab bounds both waits by NNLAB_WORKER_TIMEOUT: the cluster must form within it (the chief polls
its peers' ports first), and a dead worker is noticed within it.
"""

import dataclasses
import json
import os
import socket
import time
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.results import paths

TF_CONFIG = "TF_CONFIG"
RUN_ID = "NNLAB_RUN_ID"  # the one run id every worker writes under, decided before any of them starts
TIMEOUT = "NNLAB_WORKER_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60
JOBS = ("chief", "worker")  # the only task types MultiWorkerMirroredStrategy uses


@dataclasses.dataclass(frozen=True)
class Membership:
    """This process's place in the cluster: every worker's address, in rank order, and its own rank."""

    addresses: tuple
    rank: int
    run_id: str

    @property
    def is_chief(self):
        return self.rank == 0

    @property
    def size(self):
        return len(self.addresses)


def worker_timeout(environ=None):
    """NNLAB_WORKER_TIMEOUT in seconds (default 60), checked."""
    text = (environ if environ is not None else os.environ).get(TIMEOUT, "").strip()
    if not text:
        return float(DEFAULT_TIMEOUT_SECONDS)
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise NnlabError(
            f"environment variable {TIMEOUT}={text!r} must be a number of seconds above 0: how long a worker waits "
            f"for the others to start, and how soon a dead worker is noticed (default {DEFAULT_TIMEOUT_SECONDS})."
        )
    return seconds


def membership(environ=None):
    """The cluster TF_CONFIG describes, checked without TensorFlow; None without TF_CONFIG or for one worker.

    Raises:
      NnlabError: TF_CONFIG is malformed, gives this task an index outside the cluster, names a host that does not
        resolve, or NNLAB_RUN_ID is missing.
    """
    environ = environ if environ is not None else os.environ
    text = environ.get(TF_CONFIG, "").strip()
    if not text:
        return None
    fix = 'e.g. {"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}'
    try:
        spec = json.loads(text)
    except ValueError as error:
        raise NnlabError(f"environment variable {TF_CONFIG} is not valid JSON ({error}); {fix}.") from None
    cluster, task = (spec.get("cluster"), spec.get("task")) if isinstance(spec, dict) else (None, None)
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise NnlabError(f"environment variable {TF_CONFIG} needs a 'cluster' and a 'task' object; {fix}.")
    unknown = sorted(set(cluster) - set(JOBS))
    lists = [cluster.get(job, []) for job in JOBS]
    if unknown or not all(isinstance(entries, list) for entries in lists) or not sum(map(len, lists)):
        raise NnlabError(
            f"environment variable {TF_CONFIG}: 'cluster' must list addresses under 'worker' (and at most one "
            f"'chief'); MultiWorkerMirroredStrategy has no other task types (got {sorted(cluster)}); {fix}."
        )
    job, index = task.get("type"), task.get("index", 0)
    if job not in JOBS or job not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[job]):
        raise NnlabError(
            f"environment variable {TF_CONFIG}: 'task' {json.dumps(task)} is outside the cluster, whose tasks are "
            + ", ".join(f"{name} 0..{len(cluster[name]) - 1}" for name in JOBS if cluster.get(name))
            + "; give each machine its own type and index."
        )
    addresses = tuple(cluster.get("chief", [])) + tuple(cluster.get("worker", []))
    if len(addresses) == 1:
        return None
    for address in addresses:
        _check_address(address)
    run_id = environ.get(RUN_ID, "").strip()
    if run_id and len(os.fsencode(run_id)) > paths.name_max("."):
        raise NnlabError(
            f"environment variable {RUN_ID} is {len(os.fsencode(run_id))} bytes long, more than this file system's "
            f"limit of {paths.name_max('.')} bytes per name (NAME_MAX); give a shorter run id."
        )
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise NnlabError(
            f"environment variable {TF_CONFIG} names {len(addresses)} workers but {RUN_ID} is "
            f"{'unset' if not run_id else repr(run_id)}: set the same run id on every worker (e.g. "
            f"{RUN_ID}=$(date +%Y%m%d-%H%M%S)-cluster), so that they train one run; `--processes N` does this itself."
        )
    rank = index + (len(cluster.get("chief", [])) if job == "worker" else 0)
    return Membership(addresses=addresses, rank=rank, run_id=run_id)


def _check_address(address):
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit():
        raise NnlabError(f"environment variable {TF_CONFIG}: address {address!r} must be host:port.")
    try:
        socket.getaddrinfo(host, int(port))
    except OSError as error:
        raise NnlabError(
            f"environment variable {TF_CONFIG}: host {host!r} does not resolve ({error}); fix the address."
        ) from None


_STRATEGY = []  # MultiWorkerMirroredStrategy can join a cluster once per process


def strategy_from_environment():
    """A MultiWorkerMirroredStrategy when TF_CONFIG names several workers, else None; the same one on every call.

    Raises:
      NnlabError: a bad TF_CONFIG, or a cluster that did not form within NNLAB_WORKER_TIMEOUT.
    """
    member = membership()
    if member is None:
        return None
    if _STRATEGY:
        return _STRATEGY[0]
    import tensorflow as tf
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    timeout = worker_timeout()
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    cluster_spec = resolver.cluster_spec()
    # Our coordination service instead of the strategy's default one, for its two time bounds: heartbeats missed
    # for half the timeout mark a worker dead (noticed within about the timeout), registration waits the timeout.
    context.context().configure_coordination_service(
        service_type="standalone",
        service_leader=multi_worker_util.coordination_leader(cluster_spec),
        coordinated_jobs=[
            coordination_config_pb2.CoordinatedJob(name=job, num_tasks=cluster_spec.num_tasks(job))
            for job in JOBS
            if job in cluster_spec.jobs
        ],
        cluster_register_timeout_in_ms=int(timeout * 1000),
        heartbeat_timeout_in_ms=max(1000, int(timeout * 500)),
    )
    if member.is_chief:
        _wait_for_peers(member, timeout)  # the leader's constructor would wait for a missing peer forever
    try:
        _STRATEGY.append(tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver))
    except (tf.errors.DeadlineExceededError, tf.errors.UnavailableError) as error:
        raise NnlabError(_unreachable_message(member, timeout, error)) from None
    return _STRATEGY[0]


def _wait_for_peers(member, timeout):
    """Until every other worker's server accepts connections, for at most `timeout` seconds.

    The other workers start their servers first thing in their constructors and then wait up to the timeout for
    this one (their registration deadline), so polling their ports here cannot deadlock.
    """
    deadline = time.monotonic() + timeout
    waiting = [address for rank, address in enumerate(member.addresses) if rank != member.rank]
    while waiting:
        waiting = [address for address in waiting if not _accepts(address)]
        if waiting and time.monotonic() > deadline:
            raise NnlabError(_unreachable_message(member, timeout))
        time.sleep(0.2 if waiting else 0)


def _unreachable_message(member, timeout, error=None):
    others = [address for rank, address in enumerate(member.addresses) if rank != member.rank]
    silent = [address for address in others if not _accepts(address)]
    return (
        f"the cluster in TF_CONFIG did not form within {TIMEOUT}={timeout:g} s: "
        + (f"nothing answers at {', '.join(silent)}" if silent else f"TensorFlow said {str(error).splitlines()[0]}")
        + ". Start every worker (same command, its own TF_CONFIG task, the same NNLAB_RUN_ID), check hosts, ports "
        f"and firewalls, or raise {TIMEOUT}."
    )


def _accepts(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def peer_failure(error):
    """An NnlabError explaining a collective that failed because another worker stopped, or None."""
    if not _STRATEGY:
        return None
    import tensorflow as tf

    if not isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError)):
        return None
    detail = next((line for line in str(error).splitlines() if "unhealthy" in line or "aborted" in line), "")
    return NnlabError(
        f"another worker of the cluster stopped, so this one stopped too ({detail.strip() or type(error).__name__}); "
        f"see the other workers' logs, then run the same command with --resume to continue from the last checkpoint."
    )


def chief_run_dir(experiment_dir, member, record):
    """The chief's run directory, experiment_dir/<NNLAB_RUN_ID>: the one `--processes` made, or a new one (on
    real machines the chief creates it). A directory of that id holding another config is refused."""
    from nnlab.results import atomic, bounded, layout, rundir

    run_dir = rundir.RunDir(Path(experiment_dir) / member.run_id)
    paths.check(run_dir.path, f"{RUN_ID}={member.run_id} (the run directory under --results)")
    run_dir.path.mkdir(parents=True, exist_ok=True)
    try:
        existing = bounded.read_json(run_dir.file(layout.CONFIG))
    except FileNotFoundError:
        atomic.write_json(run_dir.file(layout.CONFIG), record)
        return run_dir
    except (OSError, ValueError) as error:  # damaged, or breaking a limit (bounded.Unreadable)
        raise NnlabError(
            f"{run_dir.path}: {RUN_ID}={member.run_id} names a run whose config.json cannot be read ({error}); "
            f"give a new {RUN_ID}."
        ) from None
    if not isinstance(existing, dict):
        existing = {}
    if run_dir.status() == "done":
        raise NnlabError(
            f"{run_dir.path}: {RUN_ID}={member.run_id} names a run that has finished; give a new {RUN_ID}."
        )
    if existing.get("config") != record["config"]:
        raise NnlabError(
            f"{run_dir.path}: {RUN_ID}={member.run_id} names a run with a different config; give this run a new "
            f"{RUN_ID}, or the same overrides to continue that one."
        )
    return run_dir


def write_worker_record(run_dir, member, status, job=None, message=None):
    """workers/<rank>.json: this worker's status and the SHA-256 of its final weights, to compare across workers."""
    from nnlab.results import atomic, layout

    record = {"rank": member.rank, "address": member.addresses[member.rank], "status": status}
    if job is not None:
        record["weights_sha256"] = weights_checksum(job)
    if message:
        record["message"] = message
    path = Path(run_dir) / layout.worker_record(member.rank)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, record)


def weights_checksum(job):
    """SHA-256 over every weight of the job's model(s) (a study's variants in order), byte for byte."""
    import hashlib

    import numpy as np

    models = [variant.model for variant in job.variants.values()] if hasattr(job, "variants") else [job.model]
    digest = hashlib.sha256()
    for model in models:
        for weights in model.get_weights():
            digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()
