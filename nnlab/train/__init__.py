"""The `nnlab run` wing: one run of one experiment, from resolved config to a complete run directory.

Entry: `run(name, overrides)` (in `runner`: checks up front, the run directory, then the job). A job (`job`) builds
the model (`modeling`) under the strategy the devices call for (`devices`), trains it in the one loop (`loop`: Keras'
`train_step` for ordinary experiments, the module's own `train_step` where the loop is the lesson; per-epoch
`controls`, `progress`), evaluates and saves it, and draws the experiment's figures (`figures`). A study (`study`)
trains one model per declared variant into the same run directory.
"""


def __getattr__(name):
    # Lazy, so that `import nnlab.train` stays cheap; the module is named runner so that importing it does not
    # replace this function with a module of the same name.
    if name == "run":
        from nnlab.train.runner import run

        return run
    raise AttributeError(f"module 'nnlab.train' has no attribute {name!r}")
