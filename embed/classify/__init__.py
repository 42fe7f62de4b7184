"""Sentence classifiers (Kim 2014 TextCNN, LSTM/GRU) on top of word vectors.

>>> from embed.classify import ClassifierConfig, fit, read_dataset, save_classifier, load_classifier
>>> config = ClassifierConfig(mode="non-static")
>>> clf = fit(read_dataset("train.txt"), config, vectors=embed.load("runs/en"))  # doctest: +SKIP
>>> clf.predict(["a gripping , funny film"], k=2)  # doctest: +SKIP

torch and scikit-learn are imported only when this package is. A program that trains or predicts
calls ``embed.runtime.configure_threads(threads, "classify")`` first, before this import: it sets
OpenMP's passive waiting, which torch reads once, when it loads (the measurements are there).
"""

from embed.classify.classifier import Classifier
from embed.classify.config import ClassifierConfig
from embed.classify.data import Dataset, read_dataset
from embed.classify.io import load_classifier, save_classifier
from embed.classify.metrics import Metrics
from embed.classify.train import fit

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
