"""Ports as tests (issue 18): public tutorial programs, each beside its nnlab port, trained on the same data.

    modules/<name>.py     the port: an experiment module written as a user writes experiments/<name>.py
    originals/<name>.py   the tutorial's own program (plain Keras, keras-tuner, or its GradientTape loop)
    test_<name>.py        trains both with one seed; asserts the port's test metric is within a measured tolerance

Everything runs offline: scikit-learn's bundled data sets, MNIST from nnlab's cache, or data drawn as the
tutorial draws it. Each port uses at most 5,000 examples and 10 epochs.
"""
