"""The `nnlab tune` wing: a sweep searches an experiment's SEARCH_SPACE with keras-tuner.

Entry: `tune(name, overrides)` (in `tuning`). `plan` decides what a sweep is (settings, search space, id,
directory) and checks it before the first trial; `oracle` wraps keras-tuner's oracles so that their state files
are written atomically; `trial` trains one trial through the same code as `nnlab run`; `distributed` runs a chief
and workers; `tables` writes trials.csv, the long history.csv and best_config.json from the sweep directory alone.
The noun is "sweep" everywhere; the verb stays keras-tuner's "tune".
"""


def __getattr__(name):
    # Lazy: `import nnlab.sweeps.tables` must not import keras-tuner or TensorFlow.
    if name == "tune":
        from nnlab.sweeps.tuning import tune

        return tune
    raise AttributeError(f"module 'nnlab.sweeps' has no attribute {name!r}")
