"""Exceptions that carry one clear line for the user.

Every error that bad input can cause is an ``AccelsimError``; the CLI prints its message on one
line and exits with status 2. Anything else escaping is a bug.
"""

from __future__ import annotations

__all__ = ["AccelsimError", "CatalogError", "UnknownNameError", "suggest"]


class AccelsimError(Exception):
    """Base class of user-facing errors: the message is the whole story."""


class CatalogError(AccelsimError):
    """A catalog or scenario file is malformed; the message names file and field."""


class UnknownNameError(AccelsimError, KeyError):
    """A name (device, model, price book, ...) is not in the catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def suggest(name: str, known: list[str] | tuple[str, ...], kind: str) -> UnknownNameError:
    """An ``UnknownNameError`` for ``name`` that lists the closest known names (``difflib``,
    imported here: only a mistyped name pays for it)."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}{hint} (see `accelsim catalog`)")
