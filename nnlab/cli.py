"""The `nnlab` command: parses arguments and dispatches to the library; no logic of its own."""

import argparse
import logging
import sys

from nnlab.errors import NnlabError, from_os_error
from nnlab.results import console, paths
from nnlab.results.status import Interrupted


class IntermixedParser(argparse.ArgumentParser):
    """A subcommand's parser that takes its flags anywhere among the key=value overrides, so that
    `nnlab run mnist epochs=2 --resume lr=0.1` means what it says instead of failing on `lr=0.1`.

    argparse's parse_intermixed_args does this but refuses a parser with subcommands, so each subcommand's parser
    applies it to its own arguments; the guard lets it call the plain parse inside.
    """

    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def main(argv=None):
    """The command; its output is best effort (nnlab.results.console), so a closed pipe never stops the work."""
    with console.best_effort_streams():
        return _main(argv)


def _main(argv):
    args = build_parser().parse_args(argv)
    _set_up_logging()
    try:
        return _dispatch(args)
    except NnlabError as error:
        console.error(str(error))
        return 2
    except Exception as error:
        mapped = from_os_error(error)  # disk full, read-only, a file where a directory belongs: the user's to fix
        if mapped is None:
            raise
        console.error(str(mapped))
        return 2
    except Interrupted as error:  # SIGTERM or SIGINT: the run or sweep recorded `interrupted` and how to continue
        console.say(f"nnlab: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        console.say("nnlab: interrupted")
        return 130


def build_parser():
    """The whole command line: run, tune, report, list."""
    parser = argparse.ArgumentParser(prog="nnlab", description="Declarative Keras experiments.")
    parser.add_argument("--results", help="results directory (default: $NNLAB_RESULTS, else ./results)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=IntermixedParser)
    run_parser = commands.add_parser("run", help="train one experiment")
    run_parser.add_argument("experiment", help="name of experiments/<name>.py")
    run_parser.add_argument("overrides", nargs="*", help="key=value config overrides, or from=<config.json>")
    run_parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the newest unfinished run with the same config from its last completed epoch",
    )
    run_parser.add_argument(
        "--processes",
        type=int,
        help="train as N local processes forming one MultiWorkerMirroredStrategy cluster on loopback",
    )
    tune_parser = commands.add_parser("tune", help="sweep an experiment's SEARCH_SPACE with keras-tuner")
    tune_parser.add_argument("experiment", help="name of experiments/<name>.py")
    tune_parser.add_argument(
        "overrides", nargs="*", help="key=value: config fields, or sweep settings (algorithm=, max_trials=, sweep=)"
    )
    tune_parser.add_argument(
        "--workers", type=int, default=0, help="run a keras-tuner chief and this many workers on this machine"
    )
    report_parser = commands.add_parser("report", help="write results/report.html and report.md")
    report_parser.add_argument("--experiment", help="only this experiment")
    report_parser.add_argument("--runs", nargs="*", default=(), help="run ids to compare side by side")
    list_parser = commands.add_parser("list", help="list the experiments")
    list_parser.add_argument("--data", action="store_true", help="list the named data sets: shapes, labels, splits")
    return parser


def _set_up_logging():
    """nnlab's own messages as `nnlab: ...` (made visible, best effort); other libraries' warnings under their own
    names, never as nnlab's. Called once per command: a second call in one process replaces the handler."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
    own = logging.getLogger("nnlab")
    for handler in [handler for handler in own.handlers if isinstance(handler, console.Handler)]:
        own.removeHandler(handler)
    handler = console.Handler()
    handler.setFormatter(logging.Formatter("nnlab: %(message)s"))
    own.addHandler(handler)
    own.setLevel(logging.INFO)
    own.propagate = False


def _dispatch(args):
    if args.command == "list":
        return _list(args.data)
    results = paths.results_dir(args.results)  # an empty or over-long one stops here, before anything is written
    if args.command == "tune" and args.workers < 0:
        raise NnlabError(f"--workers {args.workers}: give the number of sweep workers, 0 (none) or more.")
    if args.command in ("run", "tune"):
        from nnlab.train import startup

        startup.import_tensorflow()  # before anything else loads it, so that its start-up chatter is filtered
    if args.command == "tune":
        from nnlab.sweeps import tuning

        result = tuning.tune(args.experiment, args.overrides, results_dir=results, workers=args.workers)
        console.say(f"sweep written to {result.sweep_dir}", sys.stdout)
        return 0
    if args.command == "report":
        from nnlab import report

        written = report.build(results, experiment=args.experiment, runs=args.runs)
        console.say("report written to " + " and ".join(map(str, written)), sys.stdout)
        return 0
    if args.processes is not None:  # the launcher; worker 0 prints what a one-process run prints
        from nnlab.train import launch

        launch.run_processes(args.experiment, args.overrides, args.processes, results_dir=results, resume=args.resume)
        return 0
    from nnlab.train import runner

    result = runner.run(args.experiment, args.overrides, results_dir=results, resume=args.resume)
    console.say(f"run written to {result.run_dir}", sys.stdout)
    for hook, message in result.metrics.get("errors", {}).items():  # the run is kept; the hook still failed
        console.error(f"after training, {hook} failed: {message}")
    return 1 if result.metrics.get("errors") else 0


def _list(data_sets):
    """`nnlab list`: every experiment module with its summary, or (--data) the named data sets."""
    if data_sets:
        from nnlab import datasets

        for name, form in datasets.formats().items():
            shape = "x".join(map(str, form.input_shape))
            console.say(
                f"{name:14} inputs {shape} {form.input_dtype}: {form.inputs}\n{'':14} labels {form.label_dtype}: "
                f"{form.labels}\n{'':14} splits {form.splits}",
                sys.stdout,
            )
        return 0
    from nnlab import experiment

    names, skipped = experiment.scan()  # a missing experiments folder raises: exit 2
    for name, reason in skipped:
        console.say(f"nnlab: skipped {name}: {reason}")
    if names:
        from nnlab.train import startup

        startup.import_tensorflow()  # modules import keras: no TensorFlow start-up lines in a listing either
    for name in names:
        console.say(f"{name:16} {experiment.summary(name)}", sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
