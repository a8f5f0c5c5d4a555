"""Distributed sweeps on keras-tuner's own engine (a chief oracle served over gRPC, workers running trials),
started and supervised on one machine by `launch`.

Measured with keras-tuner 1.4.8: a SIGKILLed worker leaves its trial RUNNING and the chief waits forever; a dead
chief blocks workers for up to an hour; a late worker with overwrite=True deletes others' trials. So `launch`
restarts a dead worker under its own id (the oracle hands it back its unfinished trial, which resumes from its
last epoch), restarts everything when the chief dies (the chief reloads its state from disk), never passes
overwrite=True, and gives up with a clear error after a few restarts instead of waiting.

On a machine with GPUs each worker gets its own (CUDA_VISIBLE_DEVICES), dealt round-robin when the counts differ,
and the chief, which only serves the oracle, gets none: for the small models nnlab sweeps, one trial per GPU beats
mirroring every trial over all of them.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

from nnlab.errors import NnlabError
from nnlab.results import atomic, layout

POLL_SECONDS = 0.5
MAX_RESTARTS = 3  # per process role
USER_ERROR = 2  # exit status of `nnlab` for an NnlabError: restarting cannot help


def serve(oracle, on_change):
    """Serve `oracle` to workers until every trial has ended and every worker has been told to stop.

    keras-tuner's start_server does the same but polls for the end every 20 s; this polls every 0.5 s and
    calls `on_change()` whenever a trial starts or ends.
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        server.add_insecure_port(address)
    except RuntimeError as error:
        raise NnlabError(
            f"the sweep's chief cannot listen on {address} ({error}); pick a free KERASTUNER_ORACLE_PORT."
        ) from None
    server.start()
    seen = None
    try:
        while True:
            time.sleep(POLL_SECONDS)
            state = (len(oracle.trials), len(oracle.end_order))
            if state != seen:
                on_change()
                seen = state
            if servicer.stop_triggered and oracle_chief.exit_chief(oracle):
                on_change()
                return
    finally:
        server.stop(grace=1)


def launch(sweep, args, workers):
    """Run the sweep as a chief plus `workers` workers on this machine, restarting any that die; returns when
    the chief has ended the search. Logs go to <sweep>/logs/<role>.log, process ids to <sweep>/processes.json."""
    port = _free_port()
    logs = Path(sweep.sweep_dir) / layout.LOGS
    logs.mkdir(parents=True, exist_ok=True)
    results = str(Path(sweep.sweep_dir).parents[2])
    command = [sys.executable, "-m", "nnlab.cli", "--results", results, "tune", sweep.experiment.name, *args]
    env = {
        **os.environ,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(port),
        "NNLAB_SWEEP_LAUNCHED": "1",
        "NNLAB_EXPERIMENTS": str(Path(sweep.experiment.path).parent.resolve()),
    }
    roles = ["chief"] + [f"worker{index}" for index in range(workers)]
    environments = role_environments(roles, env, gpus_to_deal(env))
    processes, restarts = {}, dict.fromkeys(roles, 0)

    def start(role):
        with open(logs / f"{role}.log", "a") as log:
            processes[role] = subprocess.Popen(command, env=environments[role], stdout=log, stderr=subprocess.STDOUT)
        atomic.write_json(Path(sweep.sweep_dir) / layout.PROCESSES, {name: p.pid for name, p in processes.items()})

    def restart(role, why):
        restarts[role] += 1
        if restarts[role] > MAX_RESTARTS:
            raise NnlabError(
                f"sweep {sweep.sweep_dir}: the {role} died {restarts[role]} times ({why}); see {logs}/{role}.log. "
                f"Run the same command again to resume from the finished epochs."
            )
        print(f"nnlab: {role} {why}; restarting it under the same id", file=sys.stderr)
        start(role)

    relay = ConsoleRelay(logs, roles)
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for role in roles:
            start(role)
        workers_done_at = None
        while True:
            time.sleep(POLL_SECONDS)
            relay.poll()
            chief = processes["chief"]
            if chief.poll() is not None:
                relay.poll()  # the lines it wrote before it ended
                if chief.returncode == 0:
                    return
                if chief.returncode == USER_ERROR:
                    raise NnlabError(_last_error(logs / "chief.log"))
                _stop([p for role, p in processes.items() if role != "chief"])  # they would wait an hour
                restart("chief", f"exited with status {chief.returncode}")
                for role in roles[1:]:
                    start(role)
                continue
            for role in roles[1:]:
                code = processes[role].poll()
                if code == USER_ERROR:
                    raise NnlabError(_last_error(logs / f"{role}.log"))
                if code not in (None, 0):
                    restart(role, f"exited with status {code}")
            all_done = all(processes[role].poll() == 0 for role in roles[1:])
            workers_done_at = (workers_done_at or time.monotonic()) if all_done else None
            if workers_done_at and time.monotonic() - workers_done_at > 60:
                return  # every worker was told to stop, yet the chief lingers: the search is over
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        _stop(list(processes.values()))


class ConsoleRelay:
    """Prints on the launcher's console what a one-process sweep would print: the chief's lines (one per ended trial,
    from nnlab.sweeps.progress) and every process's `nnlab:` warnings, each distinct warning once. Errors are left
    out: a process that stops on one exits with status 2, and the launcher raises its last `nnlab: error:` line."""

    def __init__(self, logs, roles, stream=None):
        self.paths = {role: Path(logs) / f"{role}.log" for role in roles}
        self.offsets = dict.fromkeys(roles, 0)
        self.stream = stream or sys.stderr
        self.warned = set()

    def poll(self):
        """Relay the complete lines written since the last call; returns them."""
        relayed = []
        for role, path in self.paths.items():
            for line in self._new_lines(role, path):
                if line.startswith("nnlab: error:") or line.startswith("sweep written to"):
                    continue
                if role == "chief" and not line.startswith("nnlab: "):
                    relayed.append(line)
                elif line.startswith("nnlab: ") and line not in self.warned:
                    self.warned.add(line)
                    relayed.append(line)
        for line in relayed:
            print(line, file=self.stream, flush=True)
        return relayed

    def _new_lines(self, role, path):
        try:
            with open(path, "rb") as log:
                log.seek(self.offsets[role])
                data = log.read()
        except OSError:  # not started yet
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offsets[role] += len(complete)
        return complete.decode("utf-8", "replace").splitlines()


def gpus_to_deal(env, system_gpus=None):
    """The GPU ids to deal to workers: those CUDA_VISIBLE_DEVICES already allows, else every GPU the system
    shows (`system_gpus`: their names, default read from nvidia-smi)."""
    allowed = env.get("CUDA_VISIBLE_DEVICES")
    if allowed is not None:
        return [gpu.strip() for gpu in allowed.split(",") if gpu.strip() and gpu.strip() != "-1"]
    if system_gpus is None:
        from nnlab.train import system_gpus as system_gpus_lib

        system_gpus = system_gpus_lib.listed()
    return [str(index) for index in range(len(system_gpus))]


def role_environments(roles, env, gpus):
    """The environment each sweep process starts with: its KERASTUNER_TUNER_ID and, where there are GPUs, its
    CUDA_VISIBLE_DEVICES: none for the chief, one per worker round-robin (workers share GPUs when there are more
    workers than GPUs). Without GPUs the environment is left as it is."""
    environments = {}
    for role in roles:
        environments[role] = {**env, "KERASTUNER_TUNER_ID": role}
        if gpus:
            worker_index = roles.index(role) - 1
            environments[role]["CUDA_VISIBLE_DEVICES"] = "" if role == "chief" else gpus[worker_index % len(gpus)]
    return environments


def _stop(processes, grace=5):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _last_error(log):
    lines = [line for line in Path(log).read_text(errors="replace").splitlines() if line.startswith("nnlab: error:")]
    return lines[-1].removeprefix("nnlab: error: ") if lines else f"a sweep process failed; see {log}"


def _raise_interrupt(signum, frame):
    from nnlab.results.status import Interrupted

    raise Interrupted(signum)  # tuning.tune records `interrupted`; the CLI exits with the signal's code
