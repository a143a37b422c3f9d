"""Finding, reading and resolving catalog files (devices, workloads, price books).

A *catalog root* is a folder laid out like the built-in one:
``devices/{cards,servers,fabrics,frameworks}``,
``workloads/{models,routing,scenarios,traffic,validation}``,
``tco/{pricebooks,facilities}``, ``tco/spreads.yaml``. The built-in root is the repository
itself in a clone (editable install) and ``accelsim/_catalog`` inside an installed wheel. User
roots (``--catalog DIR`` or ``ACCELSIM_CATALOG=DIR1:DIR2``) are read after it; a user file with
the name of a built-in one replaces it, a new name extends the catalog.

Resolution of one entry, in order:

1. read the YAML file (errors name the file and line);
2. ``extends: parent`` deep-merges the parent's resolved fields under the child's (cycles and
   unknown parents are errors); the note of a sourced value the child inherits begins
   ``inherited from PARENT`` (the ancestor that states it);
3. what-if overrides (``--set device.ascend-910b2.hbm_bandwidth=3.2TB/s``) replace fields; each is
   recorded in ``provenance`` with confidence ``O`` and the value it replaced;
4. sourced values are split into value + provenance (see ``accelsim.catalog.schema``);
5. the schema validates it; a failure names the file, the field and what was expected;
6. each ``range: [low, high]`` is parsed like its value — each bound validated by the schema in
   the value's place, so units, currency conversion and the field's limits apply — and must hold
   the value; a failure names the file and ``field PATH.range``.

Entries are validated lazily, so one broken user file only stops the commands that use it, and
then with a message naming it; ``Catalog.check()`` validates everything.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from accelsim.catalog.devices import Card, Fabric, FrameworkProfile, Server
from accelsim.catalog.entry_cache import validated
from accelsim.catalog.file_cache import shared
from accelsim.catalog.prices import FacilityProfile, PriceBook, SpreadTable
from accelsim.catalog.relative import relative_value
from accelsim.catalog.routing import RoutingProfile
from accelsim.catalog.schema import CatalogEntry, Provenance
from accelsim.catalog.text import (
    MAX_FIELD_CHARS,
    decode_text,
    format_validation_error,
    parse_yaml,
    read_text,
    read_yaml,
)
from accelsim.catalog.workloads import ModelArch
from accelsim.errors import AccelsimError, CatalogError, suggest
from accelsim.units import UserText

__all__ = [
    "INTERVALS_STEM",
    "KINDS",
    "Catalog",
    "Override",
    "builtin_root",
    "decode_text",
    "format_validation_error",
    "load_catalog",
    "parse_override",
    "parse_yaml",
    "read_text",
    "read_yaml",
    "with_overrides",
]

_PROVENANCE_KEYS = {"conf", "src", "note", "alternatives", "fit_cases", "range"}
_NUMBERISH = re.compile(r"^\s*(?:[A-Z]{3}\s*)?[-+]?\.?\d")


@dataclass(frozen=True)
class Kind:
    """One kind of catalog entry: where its files live and which schema validates them."""

    key: str
    folder: str
    schema: type[CatalogEntry]
    label: str


KINDS: dict[str, Kind] = {
    k.key: k
    for k in (
        Kind("device", "devices/cards", Card, "device"),
        Kind("server", "devices/servers", Server, "server"),
        Kind("fabric", "devices/fabrics", Fabric, "fabric"),
        Kind("framework", "devices/frameworks", FrameworkProfile, "framework profile"),
        Kind("model", "workloads/models", ModelArch, "model"),
        Kind("prices", "tco/pricebooks", PriceBook, "price book"),
        Kind("facility", "tco/facilities", FacilityProfile, "facility profile"),
        Kind("spreads", "tco", SpreadTable, "spread table"),
        Kind("routing", "workloads/routing", RoutingProfile, "routing profile"),
    )
}
_ALIASES = {
    "card": "device",
    "devices": "device",
    "cards": "device",
    "servers": "server",
    "fabrics": "fabric",
    "frameworks": "framework",
    "models": "model",
    "pricebook": "prices",
    "price": "prices",
    "facilities": "facility",
    "spread": "spreads",
}


def kind_key(text: str) -> str:
    """Canonical kind key for user text (``cards`` -> ``device``)."""
    key = _ALIASES.get(text, text)
    if key not in KINDS:
        raise suggest(text, list(KINDS) + list(_ALIASES), "catalog kind")
    return key


def builtin_root() -> Path:
    """The built-in catalog root: inside an installed wheel, or the repository of a clone."""
    pkg = Path(__file__).resolve().parent.parent
    shipped = pkg / "_catalog"
    if (shipped / "devices").is_dir():
        return shipped
    return pkg.parent


def _is_sourced(value: Any) -> bool:
    return (
        isinstance(value, dict) and "value" in value and set(value) - {"value"} <= _PROVENANCE_KEYS
    )


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def split_provenance(
    data: Any, default: dict[str, Any] | None, prefix: str = ""
) -> tuple[Any, dict[str, Provenance]]:
    """Separate sourced values into bare values and a ``path -> Provenance`` map."""
    found: dict[str, Provenance] = {}
    if _is_sourced(data):
        try:
            prov = Provenance(
                conf=data.get("conf", (default or {}).get("conf", "A")),
                src=_as_tuple(data.get("src", (default or {}).get("src"))),
                note=data.get("note"),
                alternatives=_as_tuple(data.get("alternatives")),
                fit_cases=_as_tuple(data.get("fit_cases")),
            )
        except ValidationError as exc:
            raise CatalogError(format_validation_error(f"field {prefix}", exc, data)) from None
        inner, deeper = split_provenance(data["value"], default, prefix)
        found.update(deeper)
        found[prefix] = prov
        return inner, found
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out[key], deeper = split_provenance(value, default, path)
            found.update(deeper)
        return out, found
    numeric = isinstance(data, int | float) and not isinstance(data, bool)
    if default and prefix and (numeric or (isinstance(data, str) and _NUMBERISH.match(data))):
        found[prefix] = Provenance(
            conf=default.get("conf", "A"),
            src=_as_tuple(default.get("src")),
            note=default.get("note"),
        )
    return data, found


def iter_ranges(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted path, [low, high] as written)`` of every sourced value that states a range."""
    if _is_sourced(data):
        if "range" in data:
            yield prefix, data["range"]
        yield from iter_ranges(data["value"], prefix)
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from iter_ranges(value, f"{prefix}.{key}" if prefix else str(key))


def _at(node: Any, path: str) -> Any:
    """The value at dotted ``path`` of a validated entry (fields and dict keys)."""
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else getattr(node, part, None)
    return node


def _replaced(data: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    """A copy of nested ``data`` with ``value`` at ``keys`` (the dicts on the way copied)."""
    inner = value if len(keys) == 1 else _replaced(data[keys[0]], keys[1:], value)
    return {**data, keys[0]: inner}


def _with_ranges(
    entry: CatalogEntry, values: dict[str, Any], ranges: dict[str, Any], where: str
) -> CatalogEntry:
    """``entry`` with the ``range`` of each sourced value parsed into its provenance.

    Each bound is parsed like the value: the entry is validated again with the bound in the
    value's place (``values`` are the bare values ``entry`` was validated from), so the field's
    units, a price book's currency conversion and the field's limits all apply. The bounds must
    hold the value (``low <= value <= high``)."""
    schema = type(entry)
    prov = dict(entry.provenance)
    for path, raw in ranges.items():
        what = f"{where}: field {path}.range"
        value = _at(entry, path)
        if not isinstance(raw, list) or len(raw) != 2:
            raise CatalogError(f"{what}: expected [low, high] (got {raw!r})")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogError(f"{what}: only a number takes a range (the value is {value!r})")
        bounds = []
        for bound in raw:
            try:
                trial = schema.model_validate(_replaced(values, path.split("."), bound))
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
                raise CatalogError(f"{what}: {bound!r}: {msg}") from None
            bounds.append(float(_at(trial, path)))
        low, high = bounds
        if not low <= value <= high:
            raise CatalogError(
                f"{what}: [{raw[0]}, {raw[1]}] must hold the value "
                f"(low {low:g} <= value {value:g} <= high {high:g} is false)"
            )
        prov[path] = prov[path].model_copy(update={"range": (low, high)})
    return entry.model_copy(update={"provenance": prov})


def iter_numbers(data: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every number (or number-with-unit text) in raw catalog data."""
    if _is_sourced(data):
        yield from iter_numbers(data["value"], prefix)
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("sources", "provenance_default", "name", "description", "extends", "as_of"):
                continue
            yield from iter_numbers(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from iter_numbers(value, f"{prefix}.{i}")
    elif isinstance(data, bool):
        return
    elif isinstance(data, int | float) or (isinstance(data, str) and _NUMBERISH.match(data)):
        yield prefix


def _inherited(base: dict[str, Any], top: dict[str, Any], parent: str) -> dict[str, Any]:
    """``base`` with the note of every sourced value that ``top`` does not restate beginning
    ``inherited from PARENT`` (a note that already names an ancestor is kept)."""
    out = {}
    for key, value in base.items():
        mine = top.get(key)
        if _is_sourced(value):
            note = value.get("note") or ""
            if mine is None and not note.startswith("inherited from "):
                value = {
                    **value,
                    "note": f"inherited from {parent}" + (f": {note}" if note else ""),
                }
        elif isinstance(value, dict) and (
            mine is None or (isinstance(mine, dict) and not _is_sourced(mine))
        ):
            value = _inherited(value, mine or {}, parent)
        out[key] = value
    return out


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and not _is_sourced(value)
            and not _is_sourced(out[key])
        ):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Override:
    """One what-if override: ``KIND.NAME.FIELD=VALUE``."""

    kind: str
    name: str | None
    field: str
    value: str

    def __str__(self) -> str:
        target = f"{self.kind}.{self.name}" if self.name else self.kind
        return f"{target}.{self.field}={self.value}"


def parse_override(text: str, known_names: dict[str, list[str]] | None = None) -> Override:
    """Parse ``device.ascend-910b2.hbm_bandwidth=3.2TB/s`` (names may contain dots).

    ``scenario.FIELD=VALUE`` has no name. With ``known_names`` the longest known name that
    prefixes the rest is taken, so ``model.llama-3.3-70b.vocab_size=1`` works.
    """
    target, sep, value = text.partition("=")
    if not sep or not target.strip() or not value.strip():
        raise AccelsimError(f"--set {text!r}: expected KIND.NAME.FIELD=VALUE")
    kind_text, _, rest = target.strip().partition(".")
    if kind_text == "scenario":
        if not rest:
            raise AccelsimError(f"--set {text!r}: expected scenario.FIELD=VALUE")
        return Override("scenario", None, rest, value.strip())
    try:
        kind = kind_key(kind_text)
    except AccelsimError as exc:
        raise AccelsimError(f"--set {target.strip()}: {exc}") from None
    if len(value) > MAX_FIELD_CHARS:
        raise AccelsimError(
            f"--set {target.strip()}: a value of {len(value):,} characters is too long"
        )
    names = sorted((known_names or {}).get(kind, []), key=len, reverse=True)
    for name in names:
        if rest.startswith(name + "."):
            return _checked(Override(kind, name, rest[len(name) + 1 :], value.strip()))
    name, _, fld = rest.partition(".")
    if not name or not fld:
        raise AccelsimError(f"--set {text!r}: expected KIND.NAME.FIELD=VALUE")
    if known_names is not None:
        err = suggest(name, (known_names or {}).get(kind, []), KINDS[kind].label)
        raise AccelsimError(f"--set {target.strip()}: {err}")
    return _checked(Override(kind, name, fld, value.strip()))


#: Fields that say which entry this is, not what it is: a what-if never changes them.
_IDENTITY_FIELDS = ("name", "extends", "file", "provenance", "sources", "provenance_default")


def _checked(o: Override) -> Override:
    if o.field.split(".")[0] in _IDENTITY_FIELDS:
        raise AccelsimError(
            f"--set {o}: field {o.field.split('.')[0]} names the entry; a what-if changes "
            "its values, not which entry it is"
        )
    return o


def _set_path(data: dict[str, Any], path: str, value: Any) -> Any:
    """Set ``a.b.c`` in nested dicts; return the value replaced (bare, without provenance)."""
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        child = node.get(key)
        if _is_sourced(child):
            child = child["value"]
            node[key] = child
        if child is None:
            child = {}
            node[key] = child
        if not isinstance(child, dict):
            raise AccelsimError(f"--set: field {path!r}: {key!r} is not a group of fields")
        node = child
    old = node.get(keys[-1])
    if _is_sourced(old):
        old = old["value"]
    node[keys[-1]] = relative_value(old, value, path)
    return old


@dataclass
class _Raw:
    data: dict[str, Any]
    path: Path
    digest: str | None = None  # the SHA-256 of the file's bytes, when read through the cache


T = TypeVar("T", bound=CatalogEntry)


@dataclass
class _Table(Generic[T]):
    kind: Kind
    raw: dict[str, _Raw] = field(default_factory=dict)
    cache: dict[str, T] = field(default_factory=dict)


#: ``workloads/validation/intervals.yaml`` holds the prediction intervals
#: (``accelsim.validate.intervals``), not validation cases.
INTERVALS_STEM = "intervals"

_OTHER_FOLDERS = (
    "workloads/scenarios",
    "workloads/traffic",
    "workloads/validation",
    "workloads/sweeps",
    "workloads/traces",
)


def _refuse_strays(root: Path) -> None:
    """A user catalog's YAML file under ``devices/``, ``workloads/`` or ``tco/`` that sits in no
    folder accelsim reads (``devices/card/x.yaml``, ``devices/x.yaml``) is an error, not a file
    silently ignored."""
    known = {k.folder for k in KINDS.values()} | set(_OTHER_FOLDERS)
    for top in ("devices", "workloads", "tco"):
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
                continue
            folder = path.parent.relative_to(root).as_posix()
            if folder not in known:
                expected = ", ".join(sorted(f"{f}/" for f in known if f.startswith(top)))
                raise CatalogError(
                    f"{path}: not in a catalog folder accelsim reads (expected one of {expected})"
                )


class Catalog:
    """The merged built-in and user catalogs, with what-if overrides applied.

    Use ``load_catalog()`` to build one. Lookups (``device``, ``model``, ...) return validated,
    frozen schema objects and raise ``UnknownNameError`` with close-name suggestions.
    """

    def __init__(self, roots: list[Path], overrides: tuple[Override, ...] = ()) -> None:
        self.roots = roots
        self.overrides = tuple(o for o in overrides if o.kind != "scenario")
        self.scenario_overrides = tuple(o for o in overrides if o.kind == "scenario")
        self._tables: dict[str, _Table[Any]] = {k: _Table(kind) for k, kind in KINDS.items()}
        for root in roots[1:]:
            if not any((root / k.folder).is_dir() for k in KINDS.values()) and not any(
                (root / sub).is_dir() for sub in ("workloads/scenarios", "workloads/traffic")
            ):
                raise CatalogError(
                    f"catalog folder {root}: adds nothing (expected devices/, workloads/ or "
                    "tco/ folders laid out like the built-in catalog)"
                )
            _refuse_strays(root)
        parsed = shared()  # files parsed by earlier catalogs and processes, by content hash
        for root in roots:
            for key, kind in KINDS.items():
                folder = root / kind.folder
                if not folder.is_dir():
                    continue
                for stray in sorted(folder.glob("*.yml")):
                    raise CatalogError(f"{stray}: catalog files end in .yaml (rename it)")
                for path in sorted(folder.glob("*.yaml")):
                    data, digest = parsed.read_keyed(path)
                    if not isinstance(data, dict):
                        raise CatalogError(f"{path}: expected a mapping of fields at top level")
                    name = data.get("name", path.stem)
                    if name != path.stem:
                        raise CatalogError(
                            f"{path}: field name: {name!r} must match the file name {path.stem!r}"
                        )
                    self._tables[key].raw[path.stem] = _Raw(data, path, digest)
        parsed.save()
        for o in self.overrides:
            assert o.name is not None
            if o.name not in self._tables[o.kind].raw:
                raise suggest(o.name, self.names(o.kind), KINDS[o.kind].label)

    # ---- lookups -------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        """Sorted names of every entry of ``kind``."""
        return sorted(self._tables[kind_key(kind)].raw)

    def known_names(self) -> dict[str, list[str]]:
        return {k: self.names(k) for k in KINDS}

    def get(self, kind: str, name: str) -> Any:
        """The validated entry ``name`` of ``kind``."""
        key = kind_key(kind)
        table = self._tables[key]
        if name not in table.cache:
            if name not in table.raw:
                raise suggest(name, self.names(key), table.kind.label)
            table.cache[name] = self._build(key, name)
        return table.cache[name]

    def all(self, kind: str) -> list[Any]:
        return [self.get(kind, n) for n in self.names(kind)]

    def device(self, name: str) -> Card:
        return self.get("device", name)

    def server(self, name: str) -> Server:
        return self.get("server", name)

    def fabric(self, name: str) -> Fabric:
        return self.get("fabric", name)

    def model(self, name: str) -> ModelArch:
        return self.get("model", name)

    def framework_profile(self, framework: str, vendor: str) -> FrameworkProfile | None:
        """The profile of serving ``framework`` on ``vendor``'s cards, else its vendor-free
        profile (``vendor`` absent), or None when the catalog has neither (the framework then
        costs what the card's roofline says)."""
        general = None
        for name in self.names("framework"):
            p = self.get("framework", name)
            if p.framework != framework:
                continue
            if p.vendor == vendor:
                return p
            if p.vendor is None and general is None:
                general = p
        return general

    def prices(self, name: str) -> PriceBook:
        return self.get("prices", name)

    def facility(self, name: str) -> FacilityProfile:
        return self.get("facility", name)

    def spreads(self) -> SpreadTable:
        """The cost model's default assumption spreads (``tco/spreads.yaml``)."""
        return self.get("spreads", "spreads")

    def server_for(self, card: Card) -> Server:
        """The server a card is normally deployed in (the card's ``default_server``)."""
        if card.default_server is None:
            raise AccelsimError(f"device {card.name!r} names no default_server")
        return self.server(card.default_server)

    def check(self) -> list[Any]:
        """Validate every entry; raises on the first broken file."""
        return [self.get(k, n) for k in KINDS for n in self.names(k)]

    def provenance_problems(self, kind: str, name: str) -> list[str]:
        """What is wrong with the provenance of the numbers written in ``name``'s own file:
        a number with no source and no file default, an assumption (conf A) without a note,
        a non-assumption without a source, a source id missing from ``sources``."""
        entry = self.get(kind, name)
        problems = []
        for path in iter_numbers(read_yaml(self._tables[kind_key(kind)].raw[name].path)):
            prov = entry.source_of(path)
            if prov is None:
                problems.append(f"{name}: {path}: no provenance")
                continue
            if prov.conf == "O":
                continue
            if prov.conf == "A" and not prov.note:
                problems.append(f"{name}: {path}: assumption without a note")
            if prov.conf != "A" and not prov.src:
                problems.append(f"{name}: {path}: conf {prov.conf} without a source")
            problems += [
                f"{name}: {path}: unknown source {s}" for s in prov.src if s not in entry.sources
            ]
        return problems

    def raw(self, kind: str, name: str) -> tuple[dict[str, Any], Path]:
        """The resolved raw data (extends merged, overrides not applied) and its file."""
        key = kind_key(kind)
        return self._resolved_raw(key, name, ()), self._tables[key].raw[name].path

    def overrides_in_effect(self) -> list[dict[str, str | None]]:
        """The what-if overrides this catalog applies, one per key (the last given wins):
        ``key`` (``KIND.NAME.FIELD``), ``value`` (as given) and ``catalog_value`` — the text
        the resolved catalog file holds there (``extends`` merged), ``None`` where the file
        leaves the field to the schema default. ``scenario.*`` overrides are listed too; their
        ``catalog_value`` is ``None`` because the scenario file, not the catalog, holds it.
        Results (``compare``, ``run``, ``whatif``) print this list so that a what-if is never
        mistaken for the catalog."""
        out: dict[str, dict[str, str | None]] = {}
        for o in (*self.overrides, *self.scenario_overrides):
            key = str(o).partition("=")[0]
            old: Any = None
            if o.kind != "scenario":
                assert o.name is not None
                node: Any = self.raw(o.kind, o.name)[0]
                for part in o.field.split("."):
                    node = node["value"] if _is_sourced(node) else node
                    node = node.get(part) if isinstance(node, dict) else None
                old = node["value"] if _is_sourced(node) else node
            out[key] = {
                "key": key,
                "value": o.value,
                "catalog_value": None if old is None else str(old),
            }
        return list(out.values())

    def folder_files(self, subfolder: str) -> dict[str, Path]:
        """``stem -> path`` of YAML files in ``subfolder`` over all roots (later roots win)."""
        out: dict[str, Path] = {}
        for root in self.roots:
            folder = root / subfolder
            if folder.is_dir():
                for path in sorted(folder.glob("*.yaml")):
                    out[path.stem] = path
        return out

    # ---- resolution ----------------------------------------------------------------------
    def _resolved_raw(self, key: str, name: str, chain: tuple[str, ...]) -> dict[str, Any]:
        table = self._tables[key]
        entry = table.raw[name]
        if name in chain:
            cycle = " -> ".join((*chain, name))
            raise CatalogError(f"{entry.path}: field extends: cycle {cycle}")
        parent = entry.data.get("extends")
        if parent is None:
            return copy.deepcopy(entry.data)
        if parent not in table.raw:
            err = suggest(parent, self.names(key), table.kind.label)
            raise CatalogError(f"{entry.path}: field extends: {err}")
        base = self._resolved_raw(key, parent, (*chain, name))
        base.pop("hypothetical", None)
        base.pop("description", None)
        merged = _deep_merge(_inherited(base, entry.data, parent), entry.data)
        merged["name"] = name
        merged["extends"] = parent
        return merged

    def _build(self, key: str, name: str) -> Any:
        """Entry ``name`` validated, from the validated-entry cache when only its files and
        the code determine it (``accelsim.catalog.entry_cache``)."""
        parts = self._cache_parts(key, name)
        if parts is None:
            return self._validate(key, name)
        return validated(parts, self._tables[key].kind.schema, lambda: self._validate(key, name))

    def _cache_parts(self, key: str, name: str) -> tuple[str, ...] | None:
        """What entry ``name`` depends on beside the code: its kind, name and path and the
        content hash of each file of its ``extends`` chain. None when a what-if override
        touches it, or a file of the chain has no known hash, or the chain is broken (then
        ``_validate`` gives the usual error)."""
        if any(o.kind == key and o.name == name for o in self.overrides):
            return None
        table = self._tables[key]
        parts = [key, name, str(table.raw[name].path)]
        seen: set[str] = set()
        at: Any = name
        while isinstance(at, str) and at not in seen and at in table.raw:
            seen.add(at)
            entry = table.raw[at]
            if entry.digest is None:
                return None
            parts.append(entry.digest)
            at = entry.data.get("extends")
            if at is None:
                return tuple(parts)
        return None

    def _validate(self, key: str, name: str) -> Any:
        table = self._tables[key]
        path = table.raw[name].path
        data = self._resolved_raw(key, name, ())
        overrides_here = [o for o in self.overrides if o.kind == key and o.name == name]
        replaced: dict[str, Any] = {}
        for o in overrides_here:  # a repeated key: the last value wins, the file's value is kept
            replaced.setdefault(o.field, _set_path(data, o.field, UserText(o.value)))
        default = data.pop("provenance_default", None)
        data.setdefault("name", name)
        try:
            values, prov = split_provenance(data, default)
        except CatalogError as exc:
            raise CatalogError(f"{path}: {exc}") from None
        ranges = dict(iter_ranges(data))
        for fld, old in replaced.items():
            prov[fld] = Provenance(conf="O", note="what-if override", override_of=str(old))
        values["provenance"] = prov
        values["file"] = str(path)
        try:
            entry = table.kind.schema.model_validate(values)
        except ValidationError as exc:
            if overrides_here:
                names = ", ".join(str(o) for o in overrides_here)
                raise AccelsimError(
                    format_validation_error(f"--set {names} (on {path.name})", exc, values)
                ) from None
            raise CatalogError(format_validation_error(str(path), exc, values)) from None
        return _with_ranges(entry, values, ranges, str(path)) if ranges else entry


def user_roots(catalog_dirs: list[str] | None = None) -> list[Path]:
    """User catalog roots from arguments, else from ``ACCELSIM_CATALOG`` (``:``-separated)."""
    dirs = list(catalog_dirs or [])
    if not dirs and os.environ.get("ACCELSIM_CATALOG"):
        dirs = [d for d in os.environ["ACCELSIM_CATALOG"].split(os.pathsep) if d]
    roots = []
    for d in dirs:
        p = Path(d).expanduser()
        if not p.is_dir():
            raise AccelsimError(f"catalog folder {d!r} does not exist")
        roots.append(p)
    return roots


def _override_items(overrides: Mapping[str, Any] | Sequence[str]) -> list[str]:
    if isinstance(overrides, Mapping):
        return [f"{k}={v}" for k, v in overrides.items()]
    return [str(t) for t in overrides]


def load_catalog(
    catalog_dirs: list[str] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] | None = None,
) -> Catalog:
    """The built-in catalog plus user folders, with what-if ``overrides`` applied.

    ``overrides`` is a list of ``KIND.NAME.FIELD=VALUE`` strings or a dict of the same keys
    to values (the notebook form: ``{"device.ascend-910b2.hbm_bandwidth": "3.2 TB/s"}``).
    """
    roots = [builtin_root(), *user_roots(catalog_dirs)]
    return with_overrides(Catalog(roots), overrides)


def with_overrides(
    catalog: Catalog | None, overrides: Sequence[str] | Mapping[str, Any] | None
) -> Catalog:
    """``catalog`` (default: the built-in one and ``$ACCELSIM_CATALOG``) with more what-if
    ``overrides`` on top (dict or ``KIND.NAME.FIELD=VALUE`` texts). The overrides it already
    has stay in effect (a repeated key: the new value wins)."""
    if catalog is None:
        catalog = Catalog([builtin_root(), *user_roots(None)])
    if not overrides:
        return catalog
    known = catalog.known_names()
    new = tuple(parse_override(t, known) for t in _override_items(overrides))
    return Catalog(catalog.roots, (*catalog.overrides, *catalog.scenario_overrides, *new))
