"""The project's exceptions: each message names what was received, what was expected and the fix."""

from __future__ import annotations

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

    def __str__(self) -> str:
        text = f"word {self.word!r} is not in the vocabulary"
        if self.suggestions:
            text += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        return text
