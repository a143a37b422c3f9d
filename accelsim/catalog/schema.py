"""Shared pieces of every file-backed schema: unit-typed fields, sources, provenance.

Catalog files (``devices/``, ``workloads/``, ``tco/``) write every number either plainly or as a
*sourced value*::

    hbm_bandwidth: {value: 1.6 TB/s, conf: E, src: A6, note: "no Huawei datasheet",
                    alternatives: ["1.2 TB/s (R, blogs)"]}

The loader (``accelsim.catalog.loader``) lifts the ``conf``/``src``/``note``/``alternatives`` part
into
``entry.provenance["hbm_bandwidth"]`` and validates the bare value against the schema below. A
file-level ``provenance_default`` gives the provenance of numbers written plainly (for example a
model file whose every number comes from one ``config.json``).

Confidence codes follow ``reference/hardware.md``: V vendor spec, M measured, D derived by
arithmetic from V values, E estimate, R rumour, A an explicit modelling assumption, C calibrated
(fitted to published measurements, the fit cases named in the note; see
``accelsim.validate.cases``),
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
    """Immutable, strict base model: unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


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
