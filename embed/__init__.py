"""embed: word embeddings from raw text to vectors, search, classifiers and pictures.

>>> import embed
>>> vecs = embed.load("runs/kjv")          # doctest: +SKIP
>>> vecs.most_similar("king", topn=3)      # doctest: +SKIP
"""

from embed.config import TrainConfig
from embed.corpus import Corpus
from embed.errors import ConfigError, CorpusError, EmbedError, FormatError, NotInVocabError, OutputError, VocabError
from embed.io import load
from embed.train import train
from embed.vectors import Vectors
from embed.vocab import Vocab

__version__ = "0.1.0"

__all__ = [
    "load",
    "train",
    "Vectors",
    "Vocab",
    "Corpus",
    "TrainConfig",
    "EmbedError",
    "CorpusError",
    "VocabError",
    "FormatError",
    "ConfigError",
    "OutputError",
    "NotInVocabError",
    "__version__",
]
