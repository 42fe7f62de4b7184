"""The project's exceptions: each message names what was received, what was expected and the fix."""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence


class EmbedError(Exception):
    """Base class for every error the library raises on purpose."""


class CorpusError(EmbedError):
    """A corpus cannot be read or holds nothing usable."""


class VocabError(EmbedError):
    """The vocabulary is empty or inconsistent with the request."""


class FormatError(EmbedError):
    """A vectors or model file is not in the format it claims to be."""


class ConfigError(EmbedError):
    """An option is out of range or inconsistent with another."""


class OutputError(EmbedError):
    """An output path exists already or cannot be written."""


class NotInVocabError(EmbedError, KeyError):
    """A queried word is not in the vocabulary; ``suggestions`` holds close words (may be empty).

    ``suggestions`` may be given as a function: it then runs on first use (the message or the
    attribute), so code that catches the error and moves on (``try: kv[w] except KeyError``
    over a corpus) never pays for the search.
    """

    def __init__(self, word: str, suggestions: Sequence[str] | Callable[[], Sequence[str]] = ()) -> None:
        super().__init__(word)
        self.word = word
        self._suggestions = suggestions

    @property
    def suggestions(self) -> list[str]:
        """Vocabulary words the user may have meant, best first."""
        if callable(self._suggestions):
            self._suggestions = list(self._suggestions())
        return list(self._suggestions)

    @property
    def hint(self) -> str:
        """``"; did you mean 'king', 'kings'?"``, or ``""`` without suggestions: the end of the message."""
        return "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?" if self.suggestions else ""

    def __str__(self) -> str:
        return f"word {self.word!r} is not in the vocabulary{self.hint}"


_OS_FIXES = {
    errno.ENOSPC: "no space left on the device; free some space or write somewhere else",
    errno.EDQUOT: "disk quota exceeded; free some space or write somewhere else",
    errno.EROFS: "read-only file system; write somewhere else",
    errno.EACCES: "permission denied; check the permissions or use another path",
    errno.EPERM: "operation not permitted; check the permissions or use another path",
    errno.ENOENT: "no such file or directory; check the path",
    errno.ENOTDIR: "a part of the path is not a directory; check the path",
}


def describe_os_error(exc: OSError) -> str:
    """What an OSError means for the user and the fix (``no space left on the device; free some space ...``)."""
    return _OS_FIXES.get(exc.errno or 0, exc.strerror or type(exc).__name__)
