"""How an experiment declares what a sweep may vary: `SEARCH_SPACE = {"field": Float(...), ...}`.

Each entry names a config field and a range; the tuner maps them onto keras-tuner hyperparameters.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Float:
    min_value: float
    max_value: float
    log: bool = False
    step: float = None


@dataclasses.dataclass(frozen=True)
class Int:
    min_value: int
    max_value: int
    step: int = 1
    log: bool = False


@dataclasses.dataclass(frozen=True)
class Choice:
    values: list
