"""Classifier benchmarks (issue 5): Kim (2014) MR / SST-2, ChnSentiCorp, speed.

    python -m bench.classify speed [epoch|infer]  # TextCNN epoch on MR, batched inference
    python -m bench.classify mr [FOLDS [MODES [EPOCHS [FIRST [PATIENCE]]]]]  # MR 10-fold CV (FOLDS of 10, from FIRST)
    python -m bench.classify sst2 [WHICH [EPOCHS [sentences|phrases [PATIENCE]]]]  # SST-2 test: CNN-non-static, BiLSTM
    python -m bench.classify zh [EPOCHS [MODES]]  # ChnSentiCorp 80/10/10: CNN-rand vs CNN-non-static

Vectors come from ``python -m bench.classify_vectors en|zh`` (``runs/vectors_{en,zh}``).
Results are appended as JSON lines to ``bench/out/classify.jsonl``.
torch runs on 2 threads (``ClassifierConfig.threads``), the machines' core count.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from bench.classify_common import KIM, TREES, ZH, record, vectors


def mr(
    folds: int = 10,
    modes: str = "rand,non-static",
    epochs: int = 25,
    first: int = 0,
    patience: str = "",
    arch: str = "cbow",
) -> None:
    """Folds ``first`` .. ``first + folds - 1`` (0-based) of the seeded stratified 10-fold split;
    ``patience``: stop a fold after that many epochs without a better dev accuracy (0 or
    empty: never); ``arch``: which word vectors (``cbow`` or ``skipgram``, see bench.classify_vectors)."""
    from embed.classify import ClassifierConfig, read_dataset
    from embed.classify.train import cross_validate

    data = read_dataset(KIM / "rt-polarity.all", "kim")
    vecs = vectors("en", arch)
    for mode in modes.split(","):
        config = ClassifierConfig(
            mode=mode, tokenizer="whitespace", epochs=epochs, patience=int(patience) if patience else None
        )
        started = time.time()
        res = cross_validate(
            data,
            config,
            10,
            None if mode == "rand" else vecs,
            folds=list(range(first, first + folds)),
            on_fold=lambda n, m, mode=mode: print(f"MR {mode} fold {n + 1}: {m.accuracy:.4f}", flush=True),
        )
        acc = [m.accuracy for m in res]
        record(
            {
                "bench": "mr_cv",
                "mode": mode,
                "vectors": arch,
                "folds": [first + 1, first + folds],
                "folds_run": len(res),
                "of": 10,
                "epochs": epochs,
                "patience": patience or None,
                "accuracy_mean": float(np.mean(acc)),
                "accuracy_per_fold": acc,
                "macro_f1_mean": float(np.mean([m.macro_f1 for m in res])),
                "seconds": round(time.time() - started),
            }
        )


def sst_phrases() -> Any:
    """SST-2 training phrases as Kim (2014) trained on them: every node of the 8,544 training
    trees with a non-neutral label (0-1 negative, 3-4 positive), lower-cased, deduplicated."""
    import re

    from embed.classify.data import Dataset

    texts: list[str] = []
    labels: list[str] = []
    seen: set[str] = set()
    with open(TREES / "train.txt", encoding="utf-8") as fh:
        for line in fh:
            stack: list[tuple[str, list[str]]] = []
            tokens = re.findall(r"\(|\)|[^\s()]+", line)
            i = 0
            while i < len(tokens):
                tok = tokens[i]
                if tok == "(":
                    stack.append((tokens[i + 1], []))
                    i += 2
                    continue
                if tok == ")":
                    label, words = stack.pop()
                    if stack:
                        stack[-1][1].extend(words)
                    text = " ".join(words).lower()
                    if label != "2" and text not in seen:
                        seen.add(text)
                        texts.append(text)
                        labels.append("0" if label in ("0", "1") else "1")
                else:
                    stack[-1][1].append(tok)
                i += 1
    return Dataset(texts, labels, source=str(TREES / "train.txt"))


def _fit_and_test(label: str, train: Any, dev: Any, test: Any, config: Any, vecs: Any) -> tuple[Any, dict[str, Any]]:
    """Fit on ``train`` (``dev`` picks the best epoch; each epoch printed as ``LABEL result``; ``test``'s texts
    passed as ``extra_texts``), then score on ``test``. Returns the classifier and its test accuracy, macro-F1
    and seconds (fit and test)."""
    from embed.classify import fit

    started = time.time()
    clf = fit(
        train, config, vecs, dev=dev, extra_texts=test.texts, on_epoch=lambda r: print(f"{label} {r}", flush=True)
    )
    m = clf.evaluate(test)
    return clf, {"test_accuracy": m.accuracy, "test_macro_f1": m.macro_f1, "seconds": round(time.time() - started)}


def sst2(which: str = "cnn,bilstm", epochs: int = 25, train_on: str = "sentences", patience: str = "") -> None:
    """``train_on``: ``sentences`` (stsa.binary.train) or ``phrases`` (every labelled phrase of
    the training trees, Kim's protocol); ``patience``: stop after that many epochs without a
    better dev accuracy (empty: run every epoch)."""
    from embed.classify import ClassifierConfig, read_dataset

    train, dev, test = (read_dataset(KIM / f"stsa.binary.{s}", "kim") for s in ("train", "dev", "test"))
    if train_on == "phrases":
        train = sst_phrases()
    print(f"SST-2 training on {train_on}: {len(train):,} examples", flush=True)
    vecs = vectors("en")
    for name in which.split(","):
        arch = {"cnn": dict(arch="cnn"), "bilstm": dict(arch="lstm", bidirectional=True)}[name]
        config = ClassifierConfig(
            mode="non-static",
            tokenizer="whitespace",
            epochs=epochs,
            patience=int(patience) if patience else None,
            **arch,
        )
        clf, scores = _fit_and_test(f"SST-2 {name}", train, dev, test, config, vecs)
        record(
            {
                "bench": "sst2",
                "model": name,
                "mode": "non-static",
                "train_on": train_on,
                "train_examples": len(train),
                "epochs": epochs,
                "patience": patience or None,
                "epochs_run": len(clf.info["epochs"]),
                "best_epoch": clf.info["best_epoch"],
                **scores,
            }
        )


def zh(epochs: int = 25, modes: str = "rand,non-static") -> None:
    from embed.classify import ClassifierConfig, read_dataset
    from embed.classify.data import fixed_split

    data = read_dataset(ZH, "csv", "review", "label")
    tr, dv, te = fixed_split(len(data), (0.8, 0.1, 0.1), seed=1)
    vecs = vectors("zh")
    for mode in modes.split(","):
        config = ClassifierConfig(mode=mode, tokenizer="jieba", epochs=epochs, dim=vecs.dim, max_tokens=2000)
        clf, scores = _fit_and_test(
            f"zh {mode}", data.subset(tr), data.subset(dv), data.subset(te), config, None if mode == "rand" else vecs
        )
        record(
            {
                "bench": "chnsenticorp",
                "mode": mode,
                "epochs": epochs,
                "best_epoch": clf.info["best_epoch"],
                "split": "80/10/10 seed 1",
                **scores,
            }
        )


if __name__ == "__main__":
    from bench.classify_speed import THREADS, speed
    from embed.runtime import configure_threads

    configure_threads(THREADS, "classify")  # before torch loads: OpenMP reads its wait policy then

    commands = {"mr": mr, "sst2": sst2, "zh": zh, "speed": speed}
    args = sys.argv[1:] or ["speed"]
    commands[args[0]](*[int(a) if a.isdigit() else a for a in args[1:]])
