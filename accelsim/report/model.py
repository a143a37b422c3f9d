"""The content of a report as data, built once and rendered to Markdown and HTML alike.

A report is a title, a list of key/value facts, the what-if overrides in force, and sections;
a section holds paragraphs, tables (cells already formatted as text), charts (inline SVG) and
blocks of text shown as is (``Code``: a launch recipe).
Every chart's numbers are also in a table of the same section, so the Markdown twin (tables
only, no images) carries the same information as the HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Chart", "Code", "Report", "Section", "Table"]


@dataclass(frozen=True)
class Table:
    """Rows of formatted cells; ``align`` is ``l`` or ``r`` per column."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[Literal["l", "r"], ...] = ()
    caption: str = ""

    def __post_init__(self) -> None:
        if not self.align:
            object.__setattr__(self, "align", ("l",) * len(self.columns))
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table row {row!r} has {len(row)} cells, not {len(self.columns)}")


@dataclass(frozen=True)
class Chart:
    """One chart: ``svg`` is a complete ``<svg>`` element."""

    id: str
    title: str
    svg: str
    caption: str = ""


@dataclass(frozen=True)
class Code:
    """A block of text shown as is (a launch recipe): ``title`` above it."""

    title: str
    text: str


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    paragraphs: tuple[str, ...] = ()
    charts: tuple[Chart, ...] = ()
    tables: tuple[Table, ...] = ()
    code: tuple[Code, ...] = ()


@dataclass(frozen=True)
class Report:
    """A whole report (see the module docstring)."""

    title: str
    facts: tuple[tuple[str, str], ...]
    whatif: tuple[str, ...]
    sections: tuple[Section, ...]
    generator: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts]
