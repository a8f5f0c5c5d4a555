"""The report over a real sweep written by nnlab.sweeps.tuning (2 trials on tiny data), not a hand-made sweep."""

import json
import re

import pandas as pd

from nnlab import report
from nnlab.sweeps import tuning
from tests.tiny import TINY


def test_report_shows_a_real_two_trial_sweep(make_experiment, results_dir):
    make_experiment("tiny", TINY)
    result = tuning.tune("tiny", ["max_trials=2", "epochs=2"], results_dir=results_dir, verbose=0)
    html_path, markdown_path = report.build(results_dir)
    markdown, page = markdown_path.read_text(), html_path.read_text()
    sweep_id = result.sweep_dir.name
    section = markdown[markdown.index(f"### Sweep {sweep_id}\n") :]
    assert "Status: done" in section and "2 completed, 0 failed of 2 trials" in section
    trials = pd.read_csv(result.sweep_dir / "trials.csv", dtype={"trial_id": str})
    shown = re.findall(r"^\| \*{0,2}(\w+)(?: \(best\))?\*{0,2} \| COMPLETED \|", section, flags=re.MULTILINE)
    expected = trials.sort_values("best_objective", ascending=False, kind="stable")["trial_id"].tolist()
    assert shown == expected, "trials not sorted by objective"
    best = json.loads((result.sweep_dir / "best_config.json").read_text())
    assert f"Best trial {best['trial_id']}" in section and f"from={result.sweep_dir}/best_config.json" in section
    # The sweep's own three PNGs are embedded as written; only the parallel coordinates are the report's.
    for caption in ("against learning_rate", "over learning_rate × width", "one line per trial"):
        assert re.search(re.escape(caption) + r"[^*\n]*\*", section), caption
    assert section.count("(drawn by the report)") == 2  # the parallel-coordinates figure's alt text and caption
    assert "All hyperparameters at once" in section
    assert page.count('<img src="data:image/png;base64,') == markdown.count("](report_files/")
