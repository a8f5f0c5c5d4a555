"""benchmarks/bench.py end to end on tiny settings: the CSVs have their columns and each benchmark its ratio.

No timing is asserted: the figures depend on the machine and its load; only their presence and shape are.
"""

import csv
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
