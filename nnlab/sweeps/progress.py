"""One line per finished trial: trial k of N, its objective, the best so far and which trial, the time left.

On a terminal the line starts with a bar. The estimate is the mean time of the trials that ended, times the
trials left, divided among the workers; it is printed as "about", because trials differ (Hyperband's most).
A failed trial's line gives its error in one line and names tuner/trial_<id>/error.log, which holds the traceback.
These lines, nnlab's warnings and errors and the final paragraph are all a sweep prints.
"""

import math
import sys
from pathlib import Path

from nnlab.results import console, layout, text

BAR_WIDTH = 20
ERROR_LINE_CHARS = 300  # of a failed trial's error, on its console line


class SweepProgress:
    def __init__(self, total, objective, workers=0, stream=None, sweep_dir=None):
        self.total, self.objective, self.workers = total, objective, max(1, workers)
        self.stream = stream or sys.stderr
        self.sweep_dir = sweep_dir  # where failed trials' error.log files are
        self.reported = set()

    def update(self, summary):
        """Print a line for each trial that ended since the last call; returns the lines."""
        ended = [row for row in summary.rows if row["status"] in ("COMPLETED", "FAILED")]
        lines = []
        for row in ended:  # numbered in the order they are reported: with workers, ids do not end in order
            if row["trial_id"] not in self.reported:
                self.reported.add(row["trial_id"])
                lines.append(self.line(len(self.reported), row, ended, summary.best))
        for line in lines:
            console.say(line, self.stream)  # Choice values and trial ids are recorded text: shown visibly
        return lines

    def line(self, number, row, ended, best):
        """The line for the `number`-th ended trial, `row` (a trials.csv row)."""
        outcome = f"{self.objective} {row['best_objective']:.4g}" if row["status"] == "COMPLETED" else self.failure(row)
        best_text = f"best {best['best_objective']:.4g} (trial {best['trial_id']})" if best else "no best yet"
        times = [trial["seconds"] for trial in ended if isinstance(trial["seconds"], (int, float))]
        times = [seconds for seconds in times if math.isfinite(seconds) and seconds > 0]  # 0: failed before training
        left = max(0, self.total - len(ended))
        estimate = (
            f"about {_duration(sum(times) / len(times) * left / self.workers)} left" if times and left else "done"
        )
        if left and not times:
            estimate = "time left unknown"
        text = f"trial {number} of {self.total} (id {row['trial_id']}): {outcome}; {best_text}; {estimate}"
        if console.is_terminal(self.stream):
            filled = round(BAR_WIDTH * min(number, self.total) / max(1, self.total))
            text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"
        return text

    def failure(self, row):
        """ "failed: <the error> (traceback in <error.log>)" for a failed trial, from the error.log it left."""
        if self.sweep_dir is None:
            return "failed"
        path = Path(self.sweep_dir) / layout.TUNER / layout.trial_dir(row["trial_id"]) / layout.TRIAL_ERROR_LOG
        try:
            with open(path, "rb") as log:  # the first line only: the traceback below it may be long
                first = log.read(ERROR_LINE_CHARS * 4).decode("utf-8", "replace").split("\n", 1)[0]
        except OSError:  # not written: the trial failed before nnlab's tuner ran it
            return "failed"
        return f"failed: {text.clip(text.visible(first), ERROR_LINE_CHARS)} (traceback in {path})"


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
