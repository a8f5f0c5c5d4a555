"""Every bound on what nnlab reads, embeds or echoes, in one place (README's "Limits" lists them).

A results directory may come from someone else, so no file in it is trusted to be small, shallow or plain text.
"""

# JSON files nnlab's own code reads (config.json, status.json, metrics.json, sweep.json, best_config.json, ...).
JSON_MAX_BYTES = 16 * 2**20
JSON_MAX_DEPTH = 64  # nesting of arrays and objects; nnlab writes at most a handful of levels
JSON_MAX_INT_DIGITS = 40  # a longer integer is no count, seed or size nnlab wrote
# keras-tuner's oracle.json and trial.json: a sweep of max_trials=10000 keeps its whole history in oracle.json.
TUNER_JSON_MAX_BYTES = 256 * 2**20

# The report.
FIGURE_MAX_BYTES = 20 * 2**20  # a figure above this is listed as "not shown (size or type)"
GIF_MAX_PIXELS = 25_000_000  # width x height x frames; a larger GIF is not decoded
GIF_MAX_FRAMES = 1000  # a GIF of more frames is not decoded (each frame costs a decode, however small)
REPORT_FIGURES_MAX_BYTES = 128 * 2**20  # figure bytes one report embeds in all; later ones "not shown (report full)"
HISTORY_MAX_BYTES = 64 * 2**20  # a history.csv above this is not read: "history not shown (N bytes)"
# What one report reads in all, so that many files each just under its own limit still make a bounded report.
REPORT_HISTORY_MAX_BYTES = 256 * 2**20  # CSV bytes; later ones "history not shown (report full)"
REPORT_JSON_MAX_ITEMS = 4_000_000  # JSON values (bounded.measure); later files "not read (report full)"
HISTORY_MAX_POINTS = 5000  # rows drawn per curve; more use every k-th row plus the last (linreg's 5,000 whole)
TEXT_MAX_CHARS = 2000  # a recorded string longer than this is cut: "… (N characters in all)"
CSV_MAX_COLUMNS = 1000  # a CSV (history, trials) with more columns is not read
# A CSV (history, trials) of more rows is not read: a file just under HISTORY_MAX_BYTES of 3-byte rows is 20 million
# of them, parsed one by one; nnlab's own rows are 30 bytes or more, so real epochs reach the size limit first.
CSV_MAX_ROWS = 2_000_000
TABLE_MAX_COLUMNS = 100  # metric or hyperparameter columns per report table; the rest are counted in its caption

# Error messages.
ERROR_VALUE_CHARS = 200  # characters of a bad value quoted in an error, then "… (N characters in all)"
ERROR_MESSAGE_CHARS = 4000  # a longer error paragraph keeps its start and end (a long value with spaces in it)

# A pid in status.json or chief.lock counts only within [1, /proc/sys/kernel/pid_max]; this where that is absent
# (Linux's ceiling on 64-bit, PID_MAX_LIMIT), and for a record written on another host.
PID_MAX_FALLBACK = 4_194_304

# Paths nnlab creates: checked against NAME_MAX and PATH_MAX before anything is written, keeping this many bytes
# free under a results, run or sweep directory for the files nnlab writes beneath it.
PATH_RESERVE_BYTES = 256
