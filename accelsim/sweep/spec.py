"""Sweep files: a base scenario, axes, constraints, SLOs — and their expansion into points.

A sweep file (YAML, see ``workloads/sweeps/``)::

    name: dsv3-devices
    base: deepseek-v3-default        # scenario name, path to a scenario file, or a mapping
    seed: 7                          # sweep seed: each point's seed derives from it + digest
    evaluator: auto                  # auto | simulate | analytic | toy | package.module:function
    set:                             # catalog overrides applied to every point (optional)
      device.ascend-910b2.tdp: 400 W
    axes:                            # the grid: the product of every axis, in file order
      device: [h800, ascend-910b2]                 # a list of values
      cards: {range: [16, 64, 16]}                 # start, stop (inclusive), step
      traffic.rate: {geomspace: [1, 64, 7]}        # also linspace: [lo, hi, n]
      plan.tp,plan.ep: [[8, 16], [16, 32]]         # zipped fields: one axis, tuples of values
      set device.ascend-910b2.hbm_bandwidth: [1.6 TB/s, 3.2 TB/s]   # a catalog override axis
    samples:                         # random / Latin-hypercube samples, crossed with the grid
      method: lhs                    # lhs (scipy.stats.qmc.LatinHypercube) | random
      n: 32
      axes:
        traffic.rate: [1, 50]                               # uniform in [low, high]
        traffic.input_len: {low: 256, high: 8192, log: true, integer: true}
        set device.h800.hbm_bandwidth: {low: 2.0, high: 4.0, unit: TB/s}
    constraints:
      fit: true                      # a plan that does not fit in memory is skipped, not simulated
      where: ["cards % (plan.tp * plan.dp) == 0"]   # points failing an expression are not generated
    slo: {ttft_p99: 2 s, tpot_p99: 50 ms}           # max values; {min: x} / {max: x} also work
    metrics: [output_tokens_per_s, ttft_p99, tpot_p99, usd_per_mtok]   # kept (default: all)
    cost: {prices: international-2025, facility: us-2025}   # estimate_tco inputs (+ years)
    pareto: {cost: usd_per_mtok, latency: [tpot_p99, ttft_p99], group: device}

Axes address dotted fields of the scenario mapping (``plan.tp`` sets ``scenario["plan"]["tp"]``;
a plan written as text such as ``"tp=8,ep=8"`` is opened into a mapping first) or, with a
``set`` prefix, catalog what-if overrides ``KIND.NAME.FIELD`` exactly as ``--set`` takes them.

Determinism: the expansion order is fixed by the file (grid in row-major order, each grid
combination crossed with every sample row), samples come from ``seed``, and a point's *digest*
hashes its full resolved input (base scenario mapping, assignments, overrides, evaluator, sweep
seed). The point's simulation seed is derived from the sweep seed and that digest, never from
execution order, so any executor and any resume produces the same numbers for the same point.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import itertools
import json
import math
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accelsim.catalog.loader import format_validation_error, load_catalog, read_yaml
from accelsim.errors import AccelsimError, suggest
from accelsim.units import parse_quantity

__all__ = [
    "Axis",
    "Point",
    "SampleAxis",
    "SweepSpec",
    "apply_assignment",
    "expand",
    "load_sweep",
    "parse_axis_values",
    "point_digest",
    "point_seed",
    "resolve_base",
    "sample_rows",
]

SET_PREFIXES = ("set ", "set:")


#: The most points one sweep may expand to, and the most values one axis or sample set may
#: have: bounds checked before anything is allocated (a million points is weeks of
#: simulation; ``samples.n: 1e9`` would be terabytes of rows).
MAX_POINTS = 1_000_000
MAX_AXIS_VALUES = 100_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SampleSpec(_Strict):
    method: Literal["lhs", "random"] = "lhs"
    n: int = Field(ge=1, le=MAX_AXIS_VALUES)
    seed: int | None = None
    axes: dict[str, Any]


class Constraints(_Strict):
    fit: bool = True
    where: list[str] = Field(default_factory=list)


class ParetoSpec(_Strict):
    cost: str = "usd_per_mtok"
    latency: list[str] = Field(default_factory=lambda: ["tpot_p99", "ttft_p99"])
    group: str = "device"

    @field_validator("latency", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class SweepSpec(_Strict):
    """A parsed sweep file (see the module docstring for the format)."""

    name: str
    description: str | None = None
    base: str | dict[str, Any]
    seed: int = 0
    evaluator: str = "auto"
    set: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, Any] = Field(default_factory=dict)
    samples: SampleSpec | None = None
    constraints: Constraints = Field(default_factory=Constraints)
    slo: dict[str, Any] = Field(default_factory=dict)
    metrics: list[str] | None = None
    cost: dict[str, Any] = Field(default_factory=dict)
    pareto: ParetoSpec = Field(default_factory=ParetoSpec)
    # where the file was read from (relative base paths resolve against it); not hashed
    source: str | None = None

    def slo_bounds(self) -> dict[str, tuple[float | None, float | None]]:
        """``metric -> (min, max)`` from ``slo`` (a bare value is a maximum; units allowed)."""
        out: dict[str, tuple[float | None, float | None]] = {}
        for key, spec in self.slo.items():
            if isinstance(spec, dict):
                unknown = set(spec) - {"min", "max"}
                if unknown:
                    raise AccelsimError(f"slo.{key}: unknown keys {sorted(unknown)} (use min/max)")
                lo, hi = spec.get("min"), spec.get("max")
                out[key] = (
                    None if lo is None else slo_number(key, lo),
                    None if hi is None else slo_number(key, hi),
                )
            else:
                out[key] = (None, slo_number(key, spec))
        return out

    def kept_metrics(self) -> list[str] | None:
        """Metrics to store (``None``: all); always includes those SLOs and Pareto fronts use."""
        if self.metrics is None:
            return None
        need = [*self.metrics, *self.slo, self.pareto.cost, *self.pareto.latency]
        return list(dict.fromkeys(need))


def slo_number(key: str, value: Any) -> float:
    """An SLO bound as an SI float: a number, or text with a unit (``"2s"``, ``"<= 100 ms"``)."""
    if isinstance(value, str):
        text = value.strip().removeprefix("<=").removeprefix(">=").strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return parse_quantity(text, "time")
        except AccelsimError:
            pass
        try:
            return parse_quantity(text, "dimensionless")
        except AccelsimError as exc:
            raise AccelsimError(f"slo.{key}: cannot read {value!r} ({exc})") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AccelsimError(f"slo.{key}: expected a number or a quantity, got {value!r}")
    if not math.isfinite(value):
        raise AccelsimError(f"slo.{key}: must be a finite number (got {value!r})")
    return float(value)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; errors name the file and field (``AccelsimError``)."""
    p = Path(path)
    if not p.is_file():
        raise AccelsimError(f"sweep file {str(path)!r} does not exist")
    data = read_yaml(p)
    return sweep_from_mapping(data, where=str(p), source=str(p.resolve()))


def sweep_from_mapping(data: Any, where: str = "sweep", source: str | None = None) -> SweepSpec:
    if not isinstance(data, dict):
        raise AccelsimError(f"{where}: expected a mapping at top level")
    data = dict(data)
    data.setdefault("name", Path(where).stem if source else "sweep")
    if source is not None:
        data["source"] = source
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise AccelsimError(format_validation_error(where, exc, data)) from None
    if source is not None and ":" in spec.evaluator:
        raise AccelsimError(
            f"{where}: field evaluator: {spec.evaluator!r}: a package.module:function evaluator "
            "runs code, so it is taken only from the command line (--evaluator), never from a "
            "data file"
        )
    try:  # validate axes / samples / slo early, so a bad file fails before anything runs
        points = 1
        for key, value in spec.axes.items():
            points *= len(parse_axis(key, value))
        if spec.samples is not None:
            for key, value in spec.samples.axes.items():
                SampleAxis.parse(key, value)
            points *= spec.samples.n
        if points > MAX_POINTS:
            raise AccelsimError(
                f"axes: the grid has {points:,} points, over the {MAX_POINTS:,} one sweep may have"
            )
        spec.slo_bounds()
        for expr in spec.constraints.where:
            _compile_where(expr)
    except AccelsimError as exc:
        raise AccelsimError(f"{where}: {exc}") from None
    return spec


# ---- axes ---------------------------------------------------------------------------------


def _target(key: str) -> tuple[bool, str]:
    """``(is_override, path)`` for an axis key (``set device.x.f`` is a catalog override)."""
    k = key.strip()
    for prefix in SET_PREFIXES:
        if k.startswith(prefix):
            return True, k[len(prefix) :].strip()
    return False, k


@dataclass(frozen=True)
class Axis:
    """One grid axis: one or more target fields (zipped) and the list of values they take."""

    key: str
    fields: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def __len__(self) -> int:
        return len(self.values)


def _num(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise AccelsimError(f"{what}: expected a number, got {x!r}")
    if not math.isfinite(x):
        raise AccelsimError(f"{what}: must be a finite number (got {x!r})")
    return x


def _maybe_int(values: list[float], as_int: bool) -> list[Any]:
    if as_int:
        return [round(v) for v in values]
    return [float(v) for v in values]


def parse_axis_values(key: str, spec: Any) -> list[Any]:
    """Values of one axis from its spec: a list, ``{values}``, ``{range}``, ``{linspace}``,
    ``{geomspace}`` (ranges are inclusive of ``stop`` when a step lands on it)."""
    where = f"axes.{key}"
    if isinstance(spec, list):
        if not spec:
            raise AccelsimError(f"{where}: an axis needs at least one value")
        for v in spec:
            if isinstance(v, float) and not math.isfinite(v):
                raise AccelsimError(f"{where}: must be finite numbers (got {v!r})")
        return list(spec)
    if not isinstance(spec, dict) or len(spec) != 1:
        raise AccelsimError(
            f"{where}: expected a list of values or one of "
            "{values: [...]}, {range: [start, stop, step]}, {linspace: [lo, hi, n]}, "
            "{geomspace: [lo, hi, n]}"
        )
    ((kind, args),) = spec.items()
    if kind == "values":
        return parse_axis_values(key, args)
    if not isinstance(args, list):
        raise AccelsimError(f"{where}.{kind}: expected a list of numbers")
    if kind == "range":
        if len(args) not in (2, 3):
            raise AccelsimError(f"{where}.range: expected [start, stop] or [start, stop, step]")
        start, stop = _num(args[0], where), _num(args[1], where)
        step = _num(args[2], where) if len(args) == 3 else 1
        if step == 0 or (stop - start) * step < 0:
            raise AccelsimError(f"{where}.range: step {step} never reaches {stop} from {start}")
        n = math.floor((stop - start) / step + 1e-9) + 1
        if n > MAX_AXIS_VALUES:
            raise AccelsimError(f"{where}.range: {n:,} values, over {MAX_AXIS_VALUES:,}")
        vals = [start + i * step for i in range(n)]
        ints = all(isinstance(v, int) for v in (start, stop, step))
        return _maybe_int(vals, ints)
    if kind in ("linspace", "geomspace"):
        if len(args) != 3 or not isinstance(args[2], int) or args[2] < 1:
            raise AccelsimError(f"{where}.{kind}: expected [lo, hi, n] with a whole n >= 1")
        if args[2] > MAX_AXIS_VALUES:
            raise AccelsimError(f"{where}.{kind}: n = {args[2]:,} is over {MAX_AXIS_VALUES:,}")
        lo, hi = _num(args[0], where), _num(args[1], where)
        if kind == "geomspace" and (lo <= 0 or hi <= 0):
            raise AccelsimError(f"{where}.geomspace: bounds must be positive")
        fn = np.linspace if kind == "linspace" else np.geomspace
        vals = fn(lo, hi, args[2]).tolist()
        ints = isinstance(lo, int) and isinstance(hi, int)
        out = _maybe_int(vals, ints)
        return list(dict.fromkeys(out)) if ints else out
    raise AccelsimError(
        f"{where}: unknown axis kind {kind!r} (use values, range, linspace or geomspace)"
    )


def parse_axis(key: str, spec: Any) -> Axis:
    fields = tuple(f.strip() for f in key.split(",") if f.strip())
    if not fields:
        raise AccelsimError(f"axes: empty axis name {key!r}")
    for f in fields:
        _, path = _target(f)
        if not path:
            raise AccelsimError(f"axes.{key}: empty field name")
    values = parse_axis_values(key, spec)
    if len(fields) == 1:
        return Axis(key, fields, tuple((v,) for v in values))
    rows = []
    for v in values:
        if not isinstance(v, list | tuple) or len(v) != len(fields):
            raise AccelsimError(
                f"axes.{key}: each value must be a list of {len(fields)} items "
                f"(one per field), got {v!r}"
            )
        rows.append(tuple(v))
    return Axis(key, fields, tuple(rows))


@dataclass(frozen=True)
class SampleAxis:
    """One sampled dimension: uniform (or log-uniform) in [low, high], optionally whole/unit."""

    key: str
    low: float
    high: float
    log: bool = False
    integer: bool = False
    unit: str | None = None

    @staticmethod
    def parse(key: str, spec: Any) -> SampleAxis:
        where = f"samples.axes.{key}"
        if isinstance(spec, list):
            if len(spec) != 2:
                raise AccelsimError(f"{where}: expected [low, high]")
            spec = {"low": spec[0], "high": spec[1]}
        if not isinstance(spec, dict):
            raise AccelsimError(f"{where}: expected [low, high] or {{low, high, log, integer}}")
        unknown = set(spec) - {"low", "high", "log", "integer", "unit"}
        if unknown:
            raise AccelsimError(f"{where}: unknown keys {sorted(unknown)}")
        try:
            lo, hi = _num(spec["low"], where), _num(spec["high"], where)
        except KeyError as exc:
            raise AccelsimError(f"{where}: missing {exc.args[0]}") from None
        if not lo <= hi:
            raise AccelsimError(f"{where}: low {lo} is above high {hi}")
        log = bool(spec.get("log", False))
        if log and lo <= 0:
            raise AccelsimError(f"{where}: log sampling needs positive bounds")
        integer = bool(spec.get("integer", False))
        return SampleAxis(key, float(lo), float(hi), log, integer, spec.get("unit"))

    def value(self, u: float) -> Any:
        """Map ``u`` in [0, 1) to this axis's value."""
        if self.log:
            v = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            v = self.low + u * (self.high - self.low)
        if self.integer:
            # floor over [low, high + 1) gives every whole number an equal share
            lo, hi = math.ceil(self.low), math.floor(self.high)
            v = min(hi, lo + math.floor(u * (hi - lo + 1))) if not self.log else round(v)
            v = int(min(max(v, lo), hi))
        else:
            v = float(f"{v:.6g}")
        return f"{v} {self.unit}" if self.unit else v


def sample_rows(samples: SampleSpec, sweep_seed: int) -> list[dict[str, Any]]:
    """The sample rows (``key -> value``): Latin hypercube or plain uniform, seeded."""
    axes = [SampleAxis.parse(k, v) for k, v in samples.axes.items()]
    if not axes:
        return [{} for _ in range(samples.n)]
    seed = samples.seed if samples.seed is not None else sweep_seed
    if samples.method == "lhs":
        from scipy.stats import qmc

        u = qmc.LatinHypercube(d=len(axes), seed=np.random.default_rng(seed)).random(samples.n)
    else:
        u = np.random.default_rng(seed).random((samples.n, len(axes)))
    return [{a.key: a.value(float(u[i, j])) for j, a in enumerate(axes)} for i in range(samples.n)]


# ---- base scenario and assignment ---------------------------------------------------------


def resolve_base(spec: SweepSpec, catalog: Any | None = None) -> dict[str, Any]:
    """The base scenario as a mapping: inline, a path (relative to the sweep file), or a name
    in ``workloads/scenarios/`` of the catalog. A traffic profile named by the scenario is
    inlined (so ``traffic.rate`` axes can address it, and its content enters the digests)."""
    data = _base_mapping(spec, catalog)
    traffic = data.get("traffic")
    if isinstance(traffic, str):
        if catalog is None:
            catalog = load_catalog()
        files = catalog.folder_files("workloads/traffic")
        if traffic in files:
            raw = read_yaml(files[traffic])
            if isinstance(raw, dict):
                raw.setdefault("name", traffic)
                data["traffic"] = raw
    return data


def _base_mapping(spec: SweepSpec, catalog: Any | None) -> dict[str, Any]:
    base = spec.base
    if isinstance(base, dict):
        return copy.deepcopy(base)
    candidates = [Path(base)]
    if spec.source:
        candidates.insert(0, Path(spec.source).parent / base)
    for p in candidates:
        if p.suffix in (".yaml", ".yml") and p.is_file():
            data = read_yaml(p)
            if not isinstance(data, dict):
                raise AccelsimError(f"{p}: a scenario file must be a mapping")
            return data
    if catalog is None:
        catalog = load_catalog()
    files = catalog.folder_files("workloads/scenarios")
    if base in files:
        data = read_yaml(files[base])
        if not isinstance(data, dict):
            raise AccelsimError(f"{files[base]}: a scenario file must be a mapping")
        return data
    raise suggest(base, sorted(files), "scenario")


def _open_text_group(value: Any) -> Any:
    """``"tp=8,ep=8"`` -> ``{"tp": 8, "ep": 8}`` so that ``plan.tp`` can address it."""
    if isinstance(value, str) and "=" in value:
        out: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            k, _, v = part.partition("=")
            try:
                out[k.strip()] = int(v)
            except ValueError:
                out[k.strip()] = v.strip()
        return out
    return value


def apply_assignment(data: dict[str, Any], path: str, value: Any) -> None:
    """Set dotted ``path`` in nested mappings (creating groups as needed)."""
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        child = _open_text_group(node.get(key))
        if child is None:
            child = {}
        if not isinstance(child, dict):
            raise AccelsimError(f"axis {path!r}: field {key!r} is {child!r}, not a group of fields")
        node[key] = child
        node = child
    node[keys[-1]] = value


# ---- constraints (``where`` expressions) ---------------------------------------------------

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCS = {"min": min, "max": max, "abs": abs, "int": int, "float": float, "len": len}


def _compile_where(expr: str) -> ast.Expression:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise AccelsimError(f"constraints.where {expr!r}: not an expression ({exc.msg})") from None
    for node in ast.walk(tree):
        ok = isinstance(
            node,
            ast.Expression
            | ast.BoolOp
            | ast.BinOp
            | ast.UnaryOp
            | ast.Compare
            | ast.Name
            | ast.Attribute
            | ast.Constant
            | ast.Load
            | ast.List
            | ast.Tuple
            | ast.Call
            | ast.boolop
            | ast.operator
            | ast.unaryop
            | ast.cmpop,
        )
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords
        ):
            ok = False
        if not ok:
            raise AccelsimError(
                f"constraints.where {expr!r}: only arithmetic, comparisons, and/or/not, "
                f"field names and {', '.join(_FUNCS)} are allowed"
            )
    return tree


_MISSING = object()
#: The largest exponent and shift, and the longest repeated text or list, an expression may ask
#: for (``10**10**10`` would hang, ``"a" * 10**12`` exhaust memory).
_MAX_EXPONENT = 1024
_MAX_REPEAT = 10_000


def _check_cost(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse an operation whose result is too large to compute."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    big = numbers and (abs(right) > _MAX_EXPONENT or (abs(right) > 64 and abs(left) > 2**64))
    if isinstance(op, ast.Pow) and big:
        raise AccelsimError(f"{left!r} ** {right!r}: exponent too large")
    if isinstance(op, ast.LShift) and numbers and abs(right) > _MAX_EXPONENT:
        raise AccelsimError(f"{left!r} << {right!r}: shift too large")
    if isinstance(op, ast.Mult) and not numbers:
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(count, int)
                and count * max(len(seq), 1) > _MAX_REPEAT
            ):
                raise AccelsimError("a repeated text or list that long is not allowed")


def _eval(node: ast.AST, env: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id in ("true", "True"):
            return True
        if node.id in ("false", "False"):
            return False
        raise AccelsimError(f"unknown field {node.id!r}")
    if isinstance(node, ast.Attribute):
        base = _open_text_group(_eval(node.value, env))
        if isinstance(base, dict) and node.attr in base:
            return base[node.attr]
        raise AccelsimError(f"unknown field {node.attr!r}")
    if isinstance(node, ast.BoolOp):
        vals = (_eval(v, env) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        if isinstance(node.op, ast.Not):
            return not v
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        _check_cost(node.op, left, right)
        return _BINOPS[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, env)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _FUNCS[node.func.id](*(_eval(a, env) for a in node.args))
    raise AccelsimError(f"unsupported expression {ast.dump(node)}")  # pragma: no cover


def check_where(exprs: list[str], scenario: dict[str, Any], params: dict[str, Any]) -> str | None:
    """The first expression a point fails (``None`` if it passes all). Names resolve against the
    scenario mapping; plan sizes missing from it (``plan.dp``) default to 1."""
    env = dict(scenario)
    plan = _open_text_group(env.get("plan"))
    if plan is None or isinstance(plan, dict):
        plan = dict(plan or {})
        for k in ("tp", "dp", "pp", "ep", "replicas"):
            plan.setdefault(k, 1)
        env["plan"] = plan
    for expr in exprs:
        try:
            ok = _eval(_compile_where(expr), env)
        except AccelsimError as exc:
            raise AccelsimError(f"constraints.where {expr!r}: {exc}") from None
        except (TypeError, ZeroDivisionError, ValueError, OverflowError) as exc:
            raise AccelsimError(f"constraints.where {expr!r} at {params}: {exc}") from None
        if not ok:
            return expr
    return None


# ---- points -------------------------------------------------------------------------------


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def point_digest(
    scenario: dict[str, Any],
    overrides: dict[str, Any],
    evaluator: str,
    sweep_seed: int,
    cost: dict[str, Any] | None = None,
) -> str:
    """Content hash of a point's whole input (16 hex digits): the table's primary key."""
    payload = {"scenario": scenario, "set": overrides, "evaluator": evaluator, "seed": sweep_seed}
    if cost:
        payload["cost"] = cost
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()[:16]


def point_seed(sweep_seed: int, digest: str) -> int:
    """The point's RNG seed: a hash of the sweep seed and its digest (63 bits)."""
    h = hashlib.sha256(f"{sweep_seed}:{digest}".encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


@dataclass(frozen=True)
class Point:
    """One resolved point of a sweep: what to evaluate and how it is named."""

    index: int
    digest: str
    seed: int
    params: dict[str, Any]
    scenario: dict[str, Any] = field(repr=False)
    overrides: dict[str, Any] = field(repr=False)


@dataclass
class Expansion:
    """The points of a sweep, plus those the ``where`` constraints removed."""

    points: list[Point]
    excluded: list[tuple[dict[str, Any], str]]
    grid_size: int
    sample_count: int


def expand(spec: SweepSpec, base: dict[str, Any], evaluator: str | None = None) -> Expansion:
    """Every point of ``spec`` over ``base``, in the file's deterministic order."""
    ev = evaluator or spec.evaluator
    axes = [parse_axis(k, v) for k, v in spec.axes.items()]
    samples = sample_rows(spec.samples, spec.seed) if spec.samples else [{}]
    grid = list(itertools.product(*(a.values for a in axes))) if axes else [()]
    points: list[Point] = []
    excluded: list[tuple[dict[str, Any], str]] = []
    seen: set[str] = set()
    for combo in grid:
        for row in samples:
            params: dict[str, Any] = {}
            for axis, values in zip(axes, combo, strict=True):
                params.update(zip(axis.fields, values, strict=True))
            params.update(row)
            scenario = copy.deepcopy(base)
            overrides = dict(spec.set)
            for key, value in params.items():
                is_set, path = _target(key)
                if is_set:
                    overrides[path] = value
                else:
                    apply_assignment(scenario, path, value)
            failed = check_where(spec.constraints.where, scenario, params)
            if failed is not None:
                excluded.append((params, failed))
                continue
            digest = point_digest(scenario, overrides, ev, spec.seed, spec.cost)
            if digest in seen:  # two axis values that resolve to the same input
                continue
            seen.add(digest)
            points.append(
                Point(
                    index=len(points),
                    digest=digest,
                    seed=point_seed(spec.seed, digest),
                    params={_pretty_key(k): v for k, v in params.items()},
                    scenario=scenario,
                    overrides=overrides,
                )
            )
    return Expansion(points, excluded, len(grid), len(samples) if spec.samples else 0)


def _pretty_key(key: str) -> str:
    is_set, path = _target(key)
    return f"set:{path}" if is_set else path
