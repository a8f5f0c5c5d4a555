"""The one tiny sweepable classifier the tests share: two features, a separable label, a small MLP with dropout."""

TINY = """
    import dataclasses
    import keras
    import numpy as np
    import nnlab
    from nnlab import search_space
    from nnlab.data import Splits

    @dataclasses.dataclass(frozen=True)
    class Config(nnlab.Config):
        loss: str = "sparse_categorical_crossentropy"
        metrics: tuple[str, ...] = ("accuracy",)
        epochs: int = 2
        batch_size: int = 16
        learning_rate: float = 0.01
        width: int = 8
        examples: int = 200   # more examples make slower epochs, for the tests that kill a sweep mid-trial

    SEARCH_SPACE = {
        "learning_rate": search_space.Float(1e-3, 1e-1, log=True),
        "width": search_space.Choice([4, 8, 16]),
    }

    def make_data(config):
        rng = np.random.default_rng(config.seed)
        x = rng.normal(size=(config.examples + 40, 2)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int64")
        return Splits(train=(x[:-40], y[:-40]), test=(x[-40:], y[-40:]))

    def build_model(config):
        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(config.width, activation="relu"),
                                 keras.layers.Dropout(0.2), keras.layers.Dense(2, activation="softmax")])
"""
