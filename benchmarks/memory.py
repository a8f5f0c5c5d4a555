"""Run a command and measure its wall time and peak memory, including every process it starts.

Both figures come from sampling /proc every 0.2 s over the command's process tree (short spikes between samples
can be missed), because a sweep with workers is several processes:
- max_process_rss_mb: the largest VmHWM (peak resident set) of any one process of the tree;
- peak_tree_rss_mb:   the largest sum of RSS over the whole tree at one moment. An upper bound: pages shared
  between processes (TensorFlow's libraries) count once per process, and a child forked to run e.g. `git`
  shows its parent's whole RSS until it execs. PSS (/proc/<pid>/smaps_rollup) would split shared pages.
Not ru_maxrss from wait4/RUSAGE_CHILDREN: a child forked from this harness inherits the harness's own high-water
mark (TensorFlow and MNIST already loaded here), so every command reported the harness's 1.9 GB.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"


def run_nnlab(results, arguments, env=None):
    """`python -m nnlab.cli --results <results> <arguments>` on the repository's experiments, measured as below;
    `env` adds to script_env()."""
    command = [sys.executable, "-m", "nnlab.cli", "--results", str(results), *arguments]
    return run_measured(command, env={**script_env(), **(env or {})})


def script_env():
    """The environment of a measured process: the repository's experiments, TensorFlow's C++ notices off."""
    return {**os.environ, "NNLAB_EXPERIMENTS": str(EXPERIMENTS), "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_measured(command, env=None, timeout=1800):
    """Run `command` to completion; returns seconds, returncode, the two peak figures and the output's tail."""
    with tempfile.TemporaryFile(mode="w+") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(process.pid)
        sampler.start()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            sampler.stop()
        seconds = time.perf_counter() - started
        log.seek(0)
        tail = log.read()[-2000:]
    return {
        "seconds": seconds,
        "returncode": process.returncode,
        "max_process_rss_mb": sampler.max_process_bytes / MB,
        "peak_tree_rss_mb": sampler.peak_bytes / MB,
        "peak_processes": sampler.peak_processes,
        "output_tail": tail,
    }


class TreeSampler(threading.Thread):
    """Sum the RSS of a process and all its descendants every `interval` seconds; keep the peak."""

    def __init__(self, root, interval=0.2):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_bytes, self.peak_processes, self.max_process_bytes = 0, 0, 0
        self._stopped = threading.Event()

    def run(self):
        while not self._stopped.is_set():
            self.sample()
            self._stopped.wait(self.interval)

    def stop(self):
        self._stopped.set()
        self.join()

    def sample(self):
        parents, rss = {}, {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended while we looked
            pid = int(stat.parent.name)
            parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * PAGE  # stat fields 4 (ppid) and 24 (rss)
        tree, frontier = {self.root}, [self.root]
        children = {}
        for pid, parent in parents.items():
            children.setdefault(parent, []).append(pid)
        while frontier:
            for child in children.get(frontier.pop(), ()):
                tree.add(child)
                frontier.append(child)
        total = sum(rss.get(pid, 0) for pid in tree)
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_processes = total, len([pid for pid in tree if pid in rss])
        for pid in tree:
            self.max_process_bytes = max(self.max_process_bytes, _high_water_mark(pid))


def _high_water_mark(pid):
    """VmHWM of a process in bytes (0 if it is gone): its own peak since its last exec."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    except (OSError, ValueError):
        pass
    return 0
