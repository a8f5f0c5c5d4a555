"""One line per finished trial: trial k of N, its objective, the best so far and which trial, the time left.

On a terminal the line starts with a bar. The estimate is the mean time of the trials that ended, times the
trials left, divided among the workers; it is printed as "about", because trials differ (Hyperband's most).
"""

import math
import sys

from nnlab.results import console

BAR_WIDTH = 20


class SweepProgress:
    def __init__(self, total, objective, workers=0, stream=None):
        self.total, self.objective, self.workers = total, objective, max(1, workers)
        self.stream = stream or sys.stderr
        self.reported = set()

    def update(self, summary):
        """Print a line for each trial that ended since the last call; returns the lines."""
        ended = [row for row in summary.rows if row["status"] in ("COMPLETED", "FAILED")]
        lines = [
            self.line(number, row, ended, summary.best)
            for number, row in enumerate(ended, start=1)
            if row["trial_id"] not in self.reported
        ]
        self.reported.update(row["trial_id"] for row in ended)
        for text in lines:
            console.say(text, self.stream)  # Choice values and trial ids are recorded text: shown visibly
        return lines

    def line(self, number, row, ended, best):
        """The line for the `number`-th ended trial, `row` (a trials.csv row)."""
        outcome = f"{self.objective} {row['best_objective']:.4g}" if row["status"] == "COMPLETED" else "failed"
        best_text = f"best {best['best_objective']:.4g} (trial {best['trial_id']})" if best else "no best yet"
        times = [trial["seconds"] for trial in ended if isinstance(trial["seconds"], (int, float))]
        times = [seconds for seconds in times if math.isfinite(seconds)]
        left = max(0, self.total - len(ended))
        estimate = (
            f"about {_duration(sum(times) / len(times) * left / self.workers)} left" if times and left else "done"
        )
        if left and not times:
            estimate = "time left unknown"
        text = f"trial {number} of {self.total} (id {row['trial_id']}): {outcome}; {best_text}; {estimate}"
        if self.stream.isatty():
            filled = round(BAR_WIDTH * min(number, self.total) / max(1, self.total))
            text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text}"
        return text


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
