"""The project's exceptions: each message names what was received, what was expected and the fix."""


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
    """A queried word is not in the vocabulary."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word

    def __str__(self) -> str:
        return f"word {self.word!r} is not in the vocabulary"
