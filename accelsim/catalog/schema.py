"""Shared pieces of every file-backed schema: unit-typed fields, sources, provenance.

Catalog files (``devices/``, ``workloads/``, ``tco/``) write every number either plainly or as a
*sourced value*::

    tdp: {value: 400 W, conf: R, src: A1, note: "no vendor figure for 910B",
          alternatives: ["310 W (R)"], range: [310 W, 400 W]}

The loader (``accelsim.catalog.loader``) lifts the ``conf``/``src``/``note``/``alternatives``/
``range`` part into ``entry.provenance["tdp"]`` and validates the bare value against the schema
below. A file-level ``provenance_default`` gives the provenance of numbers written plainly (for
example a model file whose every number comes from one ``config.json``).

``alternatives`` is prose: the other figures the sources give, for a reader. ``range: [low,
high]`` is data: the span the number plausibly takes, each bound written and parsed like the
value itself (units, a currency converted at the book's rate, the field's limits), with
``low <= value <= high``. The cost model's Monte Carlo draws a triangular low/value/high from it
(``accelsim.run.pricing``).

Confidence codes follow ``reference/hardware.md``: V vendor spec, M measured, D derived by
arithmetic from V values, E estimate, R rumour, A an explicit modelling assumption, C calibrated
(fitted to published measurements; the sourced value's ``fit_cases`` names the validation
cases and ``accelsim.validate.calibrate`` refits it),
and O a what-if override given by the user (never in shipped files).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from accelsim.units import parse_quantity

__all__ = [
    "Bandwidth",
    "Bytes",
    "CatalogEntry",
    "Confidence",
    "FlopRate",
    "Frozen",
    "Power",
    "Provenance",
    "Source",
    "Time",
]


def _unit(dimension: str):
    def convert(value: object) -> object:
        if value is None:
            return None
        return parse_quantity(value, dimension)

    return BeforeValidator(convert)


#: Bytes, from ``"64 GiB"``/``"80 GB"`` or a number of bytes.
Bytes = Annotated[float, _unit("bytes"), Field(gt=0)]
#: Bytes per second, from ``"1.6 TB/s"`` or ``"200 Gb/s"``.
Bandwidth = Annotated[float, _unit("bandwidth"), Field(gt=0)]
#: FLOP (or integer OP) per second, from ``"353.9 TFLOPS"``.
FlopRate = Annotated[float, _unit("flop_rate"), Field(gt=0)]
#: Watts, from ``"400 W"``.
Power = Annotated[float, _unit("power"), Field(ge=0)]
#: Seconds, from ``"8 us"`` or ``"2 ms"``.
Time = Annotated[float, _unit("time"), Field(ge=0)]

Confidence = Literal["V", "M", "D", "E", "R", "A", "C", "O"]


class Frozen(BaseModel):
    """Immutable, strict base model: unknown fields are errors.

    Every schema's validator is built at its first validation, not at import
    (``defer_build``): a command builds only those it uses, and none for the entries that come
    validated from ``accelsim.catalog.entry_cache``. Validation itself is the same."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)


class Source(Frozen):
    """Where a number comes from."""

    title: str
    url: str | None = None
    document: str | None = None
    date: str | None = None
    locator: str | None = None


class Provenance(Frozen):
    """How one number of a catalog entry is known."""

    conf: Confidence
    src: tuple[str, ...] = ()
    note: str | None = None
    alternatives: tuple[str, ...] = ()
    #: ``range: [low, high]`` parsed into the schema's units (SI, or the entry's currency);
    #: ``low <= value <= high`` (checked by the loader)
    range: tuple[float, float] | None = None
    #: conf C: the validation cases the number was fitted on (``accelsim.validate.calibrate``)
    fit_cases: tuple[str, ...] = ()
    override_of: str | None = None  # the catalog value a what-if override replaced


class CatalogEntry(Frozen):
    """Fields every catalog item shares."""

    name: str
    description: str = ""
    extends: str | None = None
    hypothetical: bool = False
    sources: dict[str, Source] = Field(default_factory=dict)
    provenance: dict[str, Provenance] = Field(default_factory=dict)
    file: str | None = None

    def overridden(self) -> dict[str, Provenance]:
        """The fields a what-if override changed, with the value each replaced."""
        return {k: p for k, p in self.provenance.items() if p.conf == "O"}

    def source_of(self, field: str) -> Provenance | None:
        """Provenance of ``field`` (dotted path), or of its nearest sourced parent."""
        path = field
        while path:
            if path in self.provenance:
                return self.provenance[path]
            path = path.rpartition(".")[0]
        return None
