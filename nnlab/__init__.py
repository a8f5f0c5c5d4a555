"""nnlab: declarative Keras experiments, trained, swept and reported by one package."""

from nnlab.config import Config
from nnlab.errors import NnlabError

__all__ = ["Config", "NnlabError"]
__version__ = "0.1.0"
