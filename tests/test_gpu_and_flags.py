"""Flags among key=value overrides, the Makefile's flags and GPU extra, sweep workers' GPUs, and the line about a
GPU the system shows but TensorFlow does not see. No TensorFlow: what the code reads is faked (nvidia-smi, the
driver's folder), never TensorFlow itself."""

import os
import subprocess

import pytest

from nnlab import cli
from nnlab.sweeps import distributed
from nnlab.train import system_gpus

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flags_anywhere_among_overrides():
    args = cli.build_parser().parse_args(["run", "mnist", "epochs=2", "--resume", "lr=0.1", "--processes", "2", "a=1"])
    assert (args.experiment, args.overrides, args.resume, args.processes) == (
        "mnist",
        ["epochs=2", "lr=0.1", "a=1"],
        True,
        2,
    )
    args = cli.build_parser().parse_args(["tune", "mnist", "max_trials=2", "--workers", "2", "epochs=1"])
    assert (args.overrides, args.workers) == (["max_trials=2", "epochs=1"], 2)
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "mnist", "epochs=1", "--no-such-flag"])


def make_dry_run(*arguments, path=None):
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    result = subprocess.run(["make", "-n", "-C", REPO, *arguments], capture_output=True, text=True, env=env, timeout=60)
    return result.returncode, result.stdout + result.stderr


def test_make_tune_keeps_the_workers_given_in_args():
    _, output = make_dry_run("tune", "EXP=mnist", "ARGS=max_trials=2 --workers 2")
    [line] = [line for line in output.splitlines() if "nnlab tune" in line]
    assert line.split().count("--workers") == 1 and line.rstrip().endswith("--workers 2")
    _, output = make_dry_run("tune", "EXP=mnist", "WORKERS=2")
    assert any(line.rstrip().endswith("--workers 2") for line in output.splitlines() if "nnlab tune" in line)
    code, output = make_dry_run("tune", "EXP=mnist", "WORKERS=3", "ARGS=--workers 2")
    assert code != 0 and "not both" in output


def test_make_installs_the_cuda_libraries_where_nvidia_smi_is_found(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text("#!/bin/sh\necho 'GPU 0: Fake GPU (UUID: GPU-0)'\n")
    (fake / "nvidia-smi").chmod(0o755)
    venv = f"VENV={tmp_path / 'venv'}"  # a venv that does not exist, so the install steps are printed
    _, with_gpu = make_dry_run("run", venv, path=f"{fake}:{os.environ['PATH']}")
    _, without = make_dry_run("run", venv, "GPU=0", path=f"{fake}:{os.environ['PATH']}")
    assert '-e ".[test,gpu]"' in with_gpu
    assert '-e ".[test]"' in without


def test_sweep_workers_get_their_own_gpu_round_robin_and_the_chief_none():
    roles = ["chief", "worker0", "worker1", "worker2"]
    environments = distributed.role_environments(roles, {"HOME": "/h"}, ["0", "1"])
    assert {role: env["CUDA_VISIBLE_DEVICES"] for role, env in environments.items()} == {
        "chief": "",
        "worker0": "0",
        "worker1": "1",
        "worker2": "0",
    }
    assert all(env["KERASTUNER_TUNER_ID"] == role and env["HOME"] == "/h" for role, env in environments.items())
    assert "CUDA_VISIBLE_DEVICES" not in distributed.role_environments(roles, {}, [])["worker0"]  # no GPUs: as is
    assert distributed.gpus_to_deal({}, system_gpus=["GPU 0: A", "GPU 1: B", "GPU 2: C"]) == ["0", "1", "2"]
    assert distributed.gpus_to_deal({"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]  # only those the user allowed


def test_a_gpu_the_system_shows_but_tensorflow_does_not_see_is_said(tmp_path):
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)'\n")
    smi.chmod(0o755)
    shown = system_gpus.listed(nvidia_smi=str(smi), proc_gpus=tmp_path / "none")
    assert shown == ["GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1234)"]
    message = system_gpus.unseen_warning(0, shown)
    assert "shows 1 GPU(s)" in message and "TensorFlow sees none" in message and "\n" not in message
    assert system_gpus.unseen_warning(1, shown) is None  # TensorFlow sees it: nothing to say
    proc = tmp_path / "proc"
    (proc / "0000:3b:00.0").mkdir(parents=True)  # the driver's folder, read when nvidia-smi is missing
    assert system_gpus.listed(nvidia_smi=str(tmp_path / "missing"), proc_gpus=proc) == ["GPU at PCI 0000:3b:00.0"]
    assert system_gpus.listed(nvidia_smi=str(tmp_path / "missing"), proc_gpus=tmp_path / "none") == []
