"""Sentence classifiers (Kim 2014 TextCNN, LSTM/GRU) on top of word vectors.

>>> from embed.classify import ClassifierConfig, fit, read_dataset, save_classifier, load_classifier
>>> clf = fit(read_dataset("train.txt"), ClassifierConfig(mode="non-static"), vectors=embed.load("runs/en"))  # doctest: +SKIP
>>> clf.predict(["a gripping , funny film"], k=2)                                                           # doctest: +SKIP

torch and scikit-learn are imported only when this package is.
"""

import os

# libgomp's default busy-waiting collapses when the 2 cores are oversubscribed (measured:
# a 2-thread TextCNN batch 7x slower than 1 thread); passive waiting keeps 2 threads a win.
# Read once when torch loads, so only effective if torch was not imported before.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from embed.classify.classifier import Classifier  # noqa: E402
from embed.classify.config import ClassifierConfig  # noqa: E402
from embed.classify.data import Dataset, read_dataset  # noqa: E402
from embed.classify.io import load_classifier, save_classifier  # noqa: E402
from embed.classify.metrics import Metrics  # noqa: E402
from embed.classify.train import fit  # noqa: E402

__all__ = [
    "Classifier",
    "ClassifierConfig",
    "Dataset",
    "Metrics",
    "fit",
    "load_classifier",
    "read_dataset",
    "save_classifier",
]
