import bz2
import gzip
import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from embed.corpus import Corpus, resolve_sources, tokenize_jieba, tokenize_simple, tokenize_whitespace
from embed.errors import CorpusError


def test_simple_tokenizer_is_unicode_aware_and_lower_cases():
    assert tokenize_simple("Hello, WORLD! Ça va? naïve 42") == ["hello", "world", "ça", "va", "naïve", "42"]


def test_whitespace_tokenizer_keeps_tokens_verbatim():
    assert tokenize_whitespace("The cat , sat .\n") == ["The", "cat", ",", "sat", "."]


def test_jieba_segments_chinese_and_drops_punctuation():
    tokens = tokenize_jieba("贾宝玉看见林黛玉，笑道：“妹妹来了。”")
    assert "，" not in tokens and "。" not in tokens
    assert "林黛玉" in tokens or "黛玉" in tokens
    assert "".join(tokens) == "贾宝玉看见林黛玉笑道妹妹来了"


def test_reads_plain_gz_bz2_and_directories(tmp_path):
    text = "one two three\nfour five\n\nsix\n"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text(text)
    with gzip.open(tmp_path / "d" / "b.txt.gz", "wt") as fh:
        fh.write(text)
    with bz2.open(tmp_path / "d" / "c.txt.bz2", "wt") as fh:
        fh.write(text)
    expected = [["one", "two", "three"], ["four", "five"], ["six"]]
    for name in ("a.txt", "b.txt.gz", "c.txt.bz2"):
        assert list(Corpus(tmp_path / "d" / name)) == expected
    corpus = Corpus(tmp_path / "d")
    assert list(corpus) == expected * 3
    assert corpus.stats.files == 3 and corpus.stats.tokens == 18 and corpus.stats.sentences == 9
    # re-iterable: a second pass yields the same
    assert list(corpus) == expected * 3


def test_stdin_is_spooled_and_re_iterable(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a b\nc\n")))
    corpus = Corpus("-")
    assert list(corpus) == [["a", "b"], ["c"]]
    assert list(corpus) == [["a", "b"], ["c"]]
    corpus.close()


def test_long_lines_are_chunked_not_dropped(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"w{i}" for i in range(25)) + "\nshort line\n")
    corpus = Corpus(path, max_sentence_length=10)
    sentences = list(corpus)
    assert [len(s) for s in sentences] == [10, 10, 5, 2]
    assert sentences[2][-1] == "w24"
    assert corpus.stats.chunked_lines == 1 and corpus.stats.tokens == 27


def test_default_chunk_is_10000_tokens(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("x " * 25_000)
    assert [len(s) for s in Corpus(path, tokenizer="whitespace")] == [10_000, 10_000, 5_000]


def test_invalid_utf8_is_replaced_counted_and_reported_once(tmp_path, caplog):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café olé\nnaïve\n".encode("latin-1"))
    corpus = Corpus(path)
    with caplog.at_level(logging.WARNING, logger="embed.corpus"):
        first = list(corpus)
        list(corpus)
    assert first[0][0] == "caf"  # U+FFFD is not a word character
    assert corpus.stats.decode_errors == 3
    warnings = [r for r in caplog.records if "not valid UTF-8" in r.getMessage()]
    assert len(warnings) == 1 and "3 byte(s)" in warnings[0].getMessage()


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="no such file or directory"):
        Corpus(tmp_path / "nope.txt")


def test_binary_garbage_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(CorpusError, match=r"model\.bin: looks like a binary file"):
        Corpus(path)


def test_corrupt_gzip_is_refused(tmp_path):
    path = tmp_path / "broken.txt.gz"
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(CorpusError, match=r"broken\.txt\.gz: cannot be read"):
        Corpus(path)


def test_directory_without_text(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="directory holds no text files"):
        resolve_sources(tmp_path / "empty")
    (tmp_path / "empty" / "x.bin").write_bytes(b"\x00\x01" * 100)
    with pytest.raises(CorpusError, match="directory holds no text files"):
        resolve_sources(tmp_path / "empty")


def test_unknown_tokenizer(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(CorpusError, match="unknown tokenizer 'bpe'"):
        Corpus(tmp_path / "a.txt", tokenizer="bpe")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text("a b c")
    path.chmod(0)
    with pytest.raises(CorpusError, match="secret.txt: permission denied"):
        Corpus(path)


def test_jieba_in_worker_processes_gives_the_same_stream(tmp_path):
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "corpora" / "zh_novels" / "xiyouji.txt"
    path = tmp_path / "xyj.txt"
    with open(src, encoding="utf-8") as fin:
        path.write_text(
            "".join(line for _, line in zip(range(5000), fin, strict=False)), encoding="utf-8"
        )  # > 2 batches
    # In a fresh interpreter, as `embed train` runs: the pool forks, and forking this test process would copy
    # pytest-xdist's threads and the locks they hold (a forked worker can then hang for good).
    code = (
        "import sys; from embed.corpus import Corpus; "
        "one, two = Corpus(sys.argv[1], tokenizer='jieba'), Corpus(sys.argv[1], tokenizer='jieba', workers=2); "
        "same = list(two) == list(one) and two.stats == one.stats; print(same, one.stats.lines)"
    )
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["True", "5000"]


def test_token_spool_tokenizes_once_and_cleans_up(tmp_path):
    from embed.corpus import Corpus, TokenSpool

    calls = []

    class Counting(Corpus):
        def __iter__(self):
            calls.append(1)
            return super().__iter__()

    path = tmp_path / "c.txt"
    path.write_text("The king spoke\n\nand the  queen, answered\n", encoding="utf-8")
    spool = TokenSpool(Counting(path))
    first = list(spool)
    assert first == [["the", "king", "spoke"], ["and", "the", "queen", "answered"]]
    assert list(spool) == first and list(spool) == first and len(calls) == 1
    spooled = spool._path
    spool.close()
    assert spooled is not None and not spooled.exists()


def test_token_spool_abandoned_first_pass_leaves_nothing(tmp_path):
    from embed.corpus import Corpus, TokenSpool

    path = tmp_path / "c.txt"
    path.write_text("a b\nc d\ne f\n", encoding="utf-8")
    spool = TokenSpool(Corpus(path), directory=tmp_path / "spool")
    (tmp_path / "spool").mkdir()
    it = iter(spool)
    next(it)
    it.close()  # e.g. a consumer that stopped early
    assert not spool.spooled and list((tmp_path / "spool").iterdir()) == []
    assert list(spool) == [["a", "b"], ["c", "d"], ["e", "f"]] and spool.spooled
    spool.close()
    assert list((tmp_path / "spool").iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "flip", "bz2"])
def test_damaged_compressed_corpus_is_one_line_and_writes_nothing(tmp_path, kjv_path, damage):
    from click.testing import CliRunner

    from embed.cli import main

    text = "".join(open(kjv_path, encoding="utf-8").readlines()[:3000]).encode()
    if damage == "bz2":
        blob = bytearray(bz2.compress(text))
        blob[len(blob) // 2] ^= 0xFF  # past the first 8 KiB the sniffer reads
        path = tmp_path / "c.txt.bz2"
    else:
        blob = bytearray(gzip.compress(text))
        if damage == "truncate":
            blob = blob[: len(blob) // 2]
        else:
            blob[len(blob) // 2] ^= 0xFF
        path = tmp_path / "c.txt.gz"
    path.write_bytes(bytes(blob))
    out = tmp_path / "model"
    res = CliRunner().invoke(main, ["train", str(path), "--out", str(out), "--quiet", "--no-eval", "--epochs", "1"])
    assert res.exit_code == 1, res.output
    assert f"{path}: truncated or damaged compressed data after line" in res.output and "Traceback" not in res.output
    assert "re-download or recompress the file" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_huge_dim_is_refused_before_any_work():
    from embed.config import TrainConfig
    from embed.errors import ConfigError

    with pytest.raises(ConfigError, match=r"dim must be at most 10,000 .* got 100,000,000; lower --dim"):
        TrainConfig(dim=100_000_000)


def test_mostly_undecodable_corpus_is_refused_with_a_conversion_hint(tmp_path):
    src = (Path(__file__).resolve().parents[1] / "corpora" / "zh_novels" / "sanguo_yanyi.txt").read_text(
        encoding="utf-8"
    )
    path = tmp_path / "gbk.txt"
    path.write_bytes("\n".join(src.splitlines()[:300]).encode("gbk", errors="ignore"))
    with pytest.raises(
        CorpusError,
        match=r"gbk.txt: not UTF-8 \(\d+ of the first \d+ characters undecodable\); convert it, e.g. iconv -f gbk",
    ):
        Corpus(path, tokenizer="jieba")
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine text here\n", encoding="utf-8")
    (folder / "bad.txt").write_bytes(path.read_bytes())
    with pytest.raises(CorpusError, match="bad.txt: not UTF-8"):  # a directory names the bad file
        Corpus(folder)


def test_a_few_bad_bytes_are_replaced_not_refused(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"the king \xff spoke\n" * 50)
    corpus = Corpus(path)
    assert list(corpus)[0] == ["the", "king", "spoke"] and corpus.stats.decode_errors == 50


def test_jieba_cache_lives_in_the_users_cache(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "EMBED_CACHE": str(tmp_path / "cache")}
    code = "from embed.corpus import tokenize_jieba; print(tokenize_jieba('我来到北京清华大学'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert "清华大学" in out
    assert (tmp_path / "cache" / "jieba" / "jieba.cache").is_file()


def test_a_file_without_newlines_is_read_in_bounded_pieces(tmp_path: Path) -> None:
    """#19.9: 6 MiB on one line: no piece held is much over MAX_LINE_CHARS, and no token is cut or lost."""
    from embed.corpus import MAX_LINE_CHARS

    words = [f"w{i % 5000}x{i % 7}" for i in range(700_000)]
    path = tmp_path / "one-line.txt"
    path.write_text(" ".join(words), encoding="utf-8")  # no newline anywhere
    assert path.stat().st_size > 5 * MAX_LINE_CHARS
    corpus = Corpus(path, tokenizer="whitespace", max_sentence_length=10**9)
    assert max(len(line) for line in corpus.lines()) <= 2 * MAX_LINE_CHARS
    assert [t for sentence in corpus for t in sentence] == words
    assert corpus.stats.tokens == len(words)
