"""benchmarks/bench.py end to end on tiny settings: the CSVs have their columns and each benchmark its ratio.

No timing is asserted: the figures depend on the machine and its load; only their presence and shape are.
"""

import csv
import json
import tempfile
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def bench(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # nnlab's run directories land under tmp_path
    import bench

    return bench


def read(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_quick_bench_writes_every_measurement_and_a_ratio_per_benchmark(bench, tmp_path):
    import bench_output

    out = tmp_path / "bench"
    bench.main(
        ["--quick", "--only", "mnist,linefit", "--mnist-limit", "600", "--linefit-epochs", "2", "--out", str(out)]
    )

    measurements = read(out / "bench.csv")
    assert list(measurements[0]) == bench_output.MEASUREMENT_COLUMNS
    assert sorted((row["benchmark"], row["side"]) for row in measurements) == [
        ("linefit", "nnlab"),
        ("linefit", "seed"),
        ("mnist", "nnlab"),
        ("mnist", "seed"),
    ]
    assert [row["status"] for row in measurements] == ["ok"] * 4
    assert all(float(row["seconds"]) > 0 for row in measurements)
    assert all(0 <= float(row["accuracy"]) <= 1 for row in measurements if row["benchmark"] == "mnist")
    assert all(row["w"] and row["b"] and row["loss"] for row in measurements if row["benchmark"] == "linefit")

    summary = read(out / "bench_summary.csv")
    assert list(summary[0]) == bench_output.SUMMARY_COLUMNS
    with_target = {row["benchmark"]: row for row in summary if row["target"]}
    assert sorted(with_target) == ["linefit (warm)", "mnist"]
    for row in with_target.values():
        assert float(row["ratio"]) > 0
        assert row["passed"] == "pass" or row["passed"].startswith("FAIL")
        assert row["seed_quality"] and row["nnlab_quality"]
    assert (out / "bench.png").stat().st_size > 0


def test_a_side_that_cannot_run_is_reported_not_fatal(bench, monkeypatch, tmp_path):
    import cases
    import seed_linreg

    monkeypatch.setenv("BENCH_TORCH_PYTHON", str(tmp_path / "no-such-python"))
    with pytest.raises(seed_linreg.Unavailable, match="BENCH_TORCH_PYTHON"):
        seed_linreg.torch_python()

    linreg = next(case for case in cases.all_cases(bench.Settings()) if case.name == "linreg")
    row = bench.measure(linreg, "seed", seed=0)
    assert row["status"].startswith("not available") and "BENCH_TORCH_PYTHON" in row["status"]
    summary = linreg.summarize([{**row, "repeat": 0}])
    assert summary[0]["ratio"] is None and summary[0]["passed"] == "not measured"


def test_profile_writes_a_row_per_piece_of_each_step(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import profile_steps

    out = tmp_path / "bench"
    rows = profile_steps.main(["--repeats", "1", "--linreg-steps", "20", "--mnist-examples", "2048", "--out", str(out)])
    written = read(out / "profile.csv")
    assert list(written[0]) == profile_steps.COLUMNS and len(written) == len(rows)
    assert sorted({row["benchmark"] for row in written}) == ["linreg", "mnist"]
    assert len({row["variant"] for row in written}) == len(written)  # every piece measured once
    assert all(float(row["seconds"]) > 0 and float(row["us_per_step"]) > 0 for row in written)
    assert {int(row["steps"]) for row in written if row["benchmark"] == "linreg"} == {20}
    assert {int(row["steps"]) * int(row["batch"]) for row in written if row["benchmark"] == "mnist"} == {2048}


# The grouped-sweep rows (issue 20): keras-tuner's RandomSearch written plainly, nnlab's sweeps at vectorize=auto and
# vectorize=1, the default sweep; measured in fresh processes, judged from the sweeps' own files.
TINY_SWEEP = ["width=128", "max_trials=2", "epochs=1", "limit_examples=600"]


@pytest.fixture
def sweep_bench(bench):
    import sweep_vectorize

    return sweep_vectorize


def test_keras_tuner_script_trains_on_the_examples_nnlab_sweeps(bench):
    import keras_tuner_mnist

    from nnlab import experiment as experiment_lib

    experiment = experiment_lib.load("mnist", BENCHMARKS.parent / "experiments")
    splits = experiment.load_splits(experiment.config({"limit_examples": 20_000}))
    train, validation = keras_tuner_mnist.load_data(limit_examples=20_000, seed=0)
    assert (len(train[0]), len(validation[0])) == (18_000, 2_000)
    for mine, nnlab_s in ((train, splits.train), (validation, splits.validation)):
        assert mine[0].dtype == nnlab_s[0].dtype and (mine[0] == nnlab_s[0]).all() and (mine[1] == nnlab_s[1]).all()


def test_grouped_sweep_checks_read_real_sweeps(sweep_bench, repo_experiments, tmp_path):
    import sweep_record

    from nnlab.results import atomic, layout
    from nnlab.sweeps import tuning

    def sweep(name, seed):
        overrides = [*TINY_SWEEP, f"seed={seed}", f"sweep={name}"]
        result = tuning.tune("mnist", overrides, results_dir=tmp_path, verbose=0)
        result.command = "nnlab tune mnist " + " ".join(overrides)
        return result

    one, auto, other = sweep("one", 0), sweep("auto", 0), sweep("other", 1)
    # sweep.json as a sweep from before grouping writes it (no record), and with the record grouping writes
    record = atomic.read_json(one.sweep_dir / layout.SWEEP)
    record.pop("vectorize", None)
    atomic.write_json(one.sweep_dir / layout.SWEEP, record)
    grouped = {"requested": "auto", "k": 2, "rule": "cpu", "groups": [["0", "1"]], "xla": True, "reason": ""}
    atomic.write_json(
        auto.sweep_dir / layout.SWEEP, {**atomic.read_json(auto.sweep_dir / layout.SWEEP), "vectorize": grouped}
    )

    row = lambda side, result: {
        "side": side,
        "repeat": 0,
        "status": "ok",
        "settings": result.command,
        **sweep_bench.outcome(result.sweep_dir),
    }
    rows = [row("vectorize=1", one), row("vectorize=auto", auto)]
    grouping = lambda row: (row["k"], row["groups"], row["xla"], row["grouping"])
    assert grouping(rows[0]) == (None, None, None, "k -, groups -, XLA -")
    assert grouping(rows[1]) == (2, 1, True, "k 2, 1 group, XLA on")
    assert rows[0]["val_accuracy"] == max(trial["best"] for trial in rows[0]["trials"])
    assert [trial["trial_id"] for trial in rows[0]["trials"]] == ["0", "1"]

    speed, same_rates, best, each = sweep_bench.checks(rows)["vectorize=1"]
    assert same_rates.met is True and same_rates.detail == "1 of 1 repeat"
    assert best.met is True and each.met is True  # the same seed on CPU: the same numbers
    assert speed.met == (rows[0]["seconds"] / rows[1]["seconds"] >= 1)
    search, whole = sweep_bench.summary(rows)
    assert search["ratio"] == pytest.approx(rows[0]["seconds"] / rows[1]["seconds"])
    assert search["target"] == 1.0 and search["quality_ok"] is True and search["passed"] in ("pass", "FAIL (speed)")
    assert "trial i gets the same learning_rate in both: met" in search["note"]
    assert f"{one.command} | {auto.command}" in search["note"]  # what each side ran
    assert whole["target"] is None and whole["ratio"] is None  # rows read in-process: no whole command was timed

    # another seed draws other learning rates: the condition is not met, and the summary says so
    rows[1] = row("vectorize=auto", other)
    _, same_rates, _, _ = sweep_bench.checks(rows)["vectorize=1"]
    assert same_rates.met is False and same_rates.detail == "0 of 1 repeat"
    assert sweep_bench.summary(rows)[0]["quality_ok"] is False
    assert "vectorize=1 repeat 1: k -, groups -, XLA -" in sweep_bench.report(rows)

    import gpu_check

    assert gpu_check.describe_sweep(auto).endswith("; k 2, 1 group, XLA on")
    assert sweep_record.read(auto.sweep_dir).grouping.requested == "auto"


def test_sweep_sides_run_as_fresh_processes_and_keep_their_records(sweep_bench, tmp_path):
    out = tmp_path / "bench"
    work = sweep_bench.Work(trials=2, epochs=1, limit_examples=600)
    rows = sweep_bench.measure(work, repeats=1, out=out, sides=("keras-tuner",))
    (row,) = rows
    assert row["status"] == "ok", row["status"]
    script = "python benchmarks/keras_tuner_mnist.py"
    assert row["settings"] == f"{script} --trials=2 --epochs=1 --limit-examples=600 --seed=0"
    assert 0 < row["seconds"] < row["wall_seconds"]  # the search, inside the whole script
    assert len(row["trials"]) == 2 and row["val_accuracy"] == max(trial["best"] for trial in row["trials"])
    assert all(1e-4 <= trial["learning_rate"] <= 1e-2 for trial in row["trials"])
    kept = json.loads((out / "sweeps" / "keras-tuner-r1.json").read_text())
    assert kept["train_examples"] == 540 and kept["validation_examples"] == 60 and kept["completed"] == 2

    (search, whole) = sweep_bench.summary(rows)  # auto was not measured: no ratio, and no verdict made up
    assert search["seed_median_s"] == row["seconds"] and search["ratio"] is None
    assert search["passed"] == "not measured" and whole["seed_median_s"] == row["wall_seconds"]


def test_bench_sweep_rows_measure_the_default_sweep(bench, tmp_path, capsys):
    import bench_output

    out = tmp_path / "bench"
    default = "max_trials=1 epochs=1 limit_examples=600"
    bench.main(
        ["--only", "", "--sweeps", "--sweep-rows", "default", "--repeats", "1", "--out", str(out)]
        + ["--default-sweep", default]
    )
    (measured,) = read(out / "bench.csv")
    assert list(measured) == bench_output.MEASUREMENT_COLUMNS
    assert (measured["benchmark"], measured["side"], measured["status"]) == ("sweep_default", "default", "ok")
    assert measured["settings"] == f"nnlab tune mnist {default} sweep=bench-default-r1"
    assert 0 < float(measured["seconds"]) < float(measured["wall_seconds"])
    record = json.loads((out / "sweeps" / "bench-default-r1" / "sweep.json").read_text())
    assert float(measured["seconds"]) == pytest.approx(record["seconds"], rel=1e-5)
    (line,) = read(out / "bench_summary.csv")
    assert line["benchmark"] == "default mnist sweep (make tune EXP=mnist)"
    assert float(line["nnlab_median_s"]) == float(measured["seconds"]) and line["repeats"] == "1"
    assert "sweep=bench-default-r1" in line["note"] and "best val_accuracy" in line["nnlab_quality"]
    assert "default repeat 1: k " in capsys.readouterr().out  # k, groups and XLA printed, "-" without a record
    assert (out / "bench.png").stat().st_size > 0


def test_nnlab_sweep_sides_compile_cold(sweep_bench, monkeypatch):
    """keras-tuner keeps no compiled program between runs, so neither may nnlab's sides: a warm XLA cache in repeats
    2 and 3 would flatter the median."""
    seen = {}

    def measured(command, env=None, timeout=1800):
        seen.update(env)
        return {"seconds": 0.0, "returncode": 2, "max_process_rss_mb": 0.0, "peak_tree_rss_mb": 0.0, "output_tail": ""}

    monkeypatch.setattr(sweep_bench.memory, "run_measured", measured)
    sweep_bench._nnlab("grouped", "auto", ["max_trials=1", "sweep=x"], "x", None)
    assert seen["NNLAB_XLA_CACHE"] == "0" and seen["NNLAB_EXPERIMENTS"].endswith("experiments")
