"""What every port test shares: where the port modules live, and their data as the original programs get it."""

from pathlib import Path

from nnlab import experiment as experiment_lib

MODULES = Path(__file__).parent / "modules"


def port_data(name, overrides=()):
    """The port module's own make_data(config), called as a plain function: the arrays the original trains on."""
    experiment = experiment_lib.load(name, MODULES)
    return experiment.module.make_data(experiment.config(overrides))
