"""Every fitted number of accelsim, in one refit registry.

A fitted number is catalog data: a sourced value with ``conf: C`` whose ``fit_cases`` names the
validation cases it was fitted on (``split: fit`` cases of ``workloads/validation/``, ``active``
or ``calibration``; a ``check`` case is never read). ``CALIBRATED`` lists every one: where it
lives (``KIND.NAME.FIELD``, the key a ``--set`` override takes), the decimals its shipped value
is rounded to and its refit function. A refit overrides the number at its data location
(``with_overrides``) and bisects it until its fit cases match. ``calibrations`` puts every
shipped value next to its refit (``accelsim validate --refit``); a shipped value that differs
from its refit means the model or the fit cases changed since the fit.

The entries:

- ``routing.production.drift``: the per-batch drift of ``production`` routing
  (``workloads/routing/production.yaml`` says why long-run popularity is uniform and what the
  drift stands for). Bisection on ``[0, 2]`` until the fit cases match on average: a case with a
  ``reference`` (its idealised-balance sibling ``sglang-h100-ep32-prefill-4k-perfect-eplb``) is
  matched on the ratio measured/measured_ref, which isolates the routing mechanism from every
  other modelling error (6,287.75 / 7,417.125 = 0.848), a case without one on its value; the
  CloudMatrix384 pair (5,655 / 6,688 = 0.846) is the independent check. Rounded to 0.001.
- ``framework.sglang-ascend.decode_token_layer_cost``: the SGLang-on-Ascend cost per decode query
  token and layer (``devices/frameworks/sglang-ascend.yaml``), bisected until the mean signed
  error of its serving fit cases (SGLang on Huawei cards) is zero. Its fit cases are the
  P/D-disaggregated runs of two sources, the SGLang docs' page (``workloads/validation/cases.yaml``)
  and SGLang's Ascend nightly CI files (``workloads/validation/sglang-ascend-ci.yaml``), so every
  cross-validation fold keeps fit cases of another source. Rounded to 0.1 us.
- ``device.a100-sxm4-80gb.efficiency.dequant_hbm_fraction.int8`` and ``.int4``: the fraction of
  HBM peak at which the A100's weight-only INT8/INT4 kernels stream their weights, bisected
  until the mean signed error of gpt-fast's Llama-2-7B/70B batch-1 rows on that dtype is zero
  (``calibration`` cases: they are not scored, so they cannot move the error table). The other
  GA100 cards inherit the fraction (``extends: a100-sxm4-80gb``). Rounded to 0.01.

Every entry also has a ``prior``: the mechanism's neutral value, which cross-validation
(``accelsim.validate.crossval``) uses when every fit case of the number belongs to the held-out
source (there is nothing left to refit on). Drift: 0 (each batch routes with the long-run,
uniform popularity). SGLang-on-Ascend cost: 0 (the iteration is priced by the card's roofline
and iteration overhead alone, as before the profile existed). Dequant fraction: the card's own
``hbm_fraction`` (weight-only kernels stream their weights like plain ones, the value before the
fit). A refit may hold out fit cases (``held_out``): it fits on the rest.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accelsim.catalog.loader import Catalog, with_overrides
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.validate.cases import Case, load_cases
from accelsim.validate.predict import predict, predict_serving

__all__ = ["CALIBRATED", "Calibrated", "bisect_decreasing", "calibrations"]

#: A refit: the catalog, the number refitted, every case by id and the fit cases held out ->
#: the unrounded fit on the fit cases that are left.
Refit = Callable[[Catalog, "Calibrated", Mapping[str, Case], frozenset[str]], float]
#: A prior: the catalog and the number -> its neutral value (see the module docstring).
Prior = Callable[[Catalog, "Calibrated"], float]


@dataclass(frozen=True)
class Calibrated:
    """One fitted number: where it lives in catalog data, its rounding and its refit."""

    kind: str
    name: str
    field: str
    label: str
    digits: int
    refit_fn: Refit
    prior_fn: Prior
    #: What the prior stands for, for the tables and docs/validation.md.
    prior_note: str
    #: The SI unit of the number in catalog data ("" for a pure number): an override of a
    #: dimensioned field must write its unit.
    unit: str = ""

    def override(self, value: float) -> dict[str, str]:
        """The ``with_overrides`` mapping that sets the number to ``value`` (SI)."""
        return {self.key: f"{value!r} {self.unit}".strip()}

    @property
    def key(self) -> str:
        """``KIND.NAME.FIELD``: where the number lives, as a ``--set`` override names it."""
        return f"{self.kind}.{self.name}.{self.field}"

    def shipped(self, catalog: Catalog) -> float:
        """The value the catalog holds."""
        node: Any = catalog.get(self.kind, self.name)
        for part in self.field.split("."):
            node = node[part] if isinstance(node, dict) else getattr(node, part)
        return float(node)

    def fit_cases(self, catalog: Catalog) -> tuple[str, ...]:
        """The ``fit_cases`` of the number's provenance (it must be ``conf: C``)."""
        entry = catalog.get(self.kind, self.name)
        prov = entry.provenance.get(self.field)
        if prov is None or prov.conf != "C" or not prov.fit_cases:
            raise AccelsimError(
                f"{self.key}: a fitted number needs conf C and fit_cases in {entry.file}"
            )
        return prov.fit_cases

    def refit(
        self, catalog: Catalog, cases: Mapping[str, Case], held_out: frozenset[str] = frozenset()
    ) -> float:
        """The number refitted on its fit cases today but ``held_out``, rounded as the shipped
        value (at least one fit case must be left: see ``can_refit``)."""
        if not self.can_refit(catalog, held_out):
            raise AccelsimError(f"{self.key}: every fit case is held out; use its prior")
        return round(self.refit_fn(catalog, self, cases, held_out), self.digits)

    def can_refit(self, catalog: Catalog, held_out: frozenset[str]) -> bool:
        """Whether a fit case is left once ``held_out`` are removed."""
        return any(cid not in held_out for cid in self.fit_cases(catalog))

    def prior(self, catalog: Catalog) -> float:
        """The mechanism's neutral value (see the module docstring), rounded as the shipped
        value."""
        return round(self.prior_fn(catalog, self), self.digits)

    def checked_cases(
        self,
        catalog: Catalog,
        cases: Mapping[str, Case],
        ok: Callable[[Case], bool],
        what: str,
        held_out: frozenset[str] = frozenset(),
    ) -> list[Case]:
        """The fit cases but ``held_out``, each checked: a ``split: fit`` case (active or
        calibration) that ``ok`` accepts, described by ``what``."""
        out = []
        for cid in self.fit_cases(catalog):
            if cid in held_out:
                continue
            c = cases.get(cid)
            if c is None:
                raise AccelsimError(f"{self.key}: fit case {cid!r} is not among the cases read")
            if c.status not in ("active", "calibration") or c.split != "fit":
                raise AccelsimError(
                    f"{self.key}: fit case {cid!r} must be an active or calibration split: fit "
                    f"{what}"
                )
            if not ok(c):
                raise AccelsimError(f"{self.key}: fit case {cid!r} must be a {what}")
            out.append(c)
        return out


def bisect_decreasing(f: Callable[[float], float], lo: float, hi: float, steps: int) -> float:
    """The zero of a decreasing ``f`` on ``[lo, hi]`` after ``steps`` halvings (the midpoint of
    the last bracket); ``lo`` when ``f(lo) <= 0``, ``hi`` when ``f(hi) > 0``."""
    if f(lo) <= 0:
        return lo
    if f(hi) > 0:
        return hi
    for _ in range(steps):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def refit_routing_drift(
    catalog: Catalog,
    number: Calibrated,
    cases: Mapping[str, Case],
    held_out: frozenset[str] = frozenset(),
) -> float:
    """The drift of routing profile ``number.name`` matching its fixed-batch fit cases on
    average (a case with a ``reference`` on the ratio to it, see the module docstring)."""
    fit = number.checked_cases(
        catalog,
        cases,
        lambda c: (
            c.mode != "serving"
            and c.routing == number.name
            and (c.reference is None or c.reference in cases)
        ),
        f"fixed-batch case with routing {number.name} (and its reference case, if it names one)",
        held_out,
    )

    def mean_err(drift: float) -> float:
        cat = with_overrides(catalog, number.override(drift))
        errs = []
        for c in fit:
            pred = predict(c, cat).predicted
            if c.reference:
                ref = cases[c.reference]
                pred_ref = predict(ref, cat).predicted
                errs.append((pred / pred_ref) / ((c.measured or 1) / (ref.measured or 1)) - 1)
            else:
                errs.append(pred / (c.measured or 1) - 1)
        return sum(errs) / len(errs)

    return bisect_decreasing(mean_err, 0.0, 2.0, 25)


def refit_framework_cost(
    catalog: Catalog,
    number: Calibrated,
    cases: Mapping[str, Case],
    held_out: frozenset[str] = frozenset(),
    *,
    tol_s: float = 5e-8,
) -> float:
    """The ``decode_token_layer_cost`` of framework profile ``number.name`` (seconds) at which
    the mean signed error of its serving fit cases is zero, to ``tol_s``; each fit case runs the
    profile's framework on its vendor's cards."""
    prof = catalog.get("framework", number.name)
    fit = number.checked_cases(
        catalog,
        cases,
        lambda c: (
            c.scenario is not None
            and c.scenario.framework is not None
            and c.scenario.framework.name == prof.framework
            and catalog.device(c.device).vendor == prof.vendor
        ),
        f"serving case of {prof.framework} on {prof.vendor} cards",
        held_out,
    )

    def mean_err(cost: float) -> float:
        cat = with_overrides(catalog, number.override(cost))
        return statistics.fmean(predict_serving(c, cat).error_pct for c in fit)

    hi = 1e-4
    return bisect_decreasing(mean_err, 0.0, hi, math.ceil(math.log2(hi / tol_s)))


def refit_dequant_fraction(
    catalog: Catalog,
    number: Calibrated,
    cases: Mapping[str, Case],
    held_out: frozenset[str] = frozenset(),
) -> float:
    """The ``dequant_hbm_fraction`` entry ``number.field`` names (a weight dtype) of card
    ``number.name`` at which the mean signed error of its fit cases is zero: fixed-batch cases
    on that card whose weights are that dtype and narrower than the math (weight-only)."""
    weights = number.field.rsplit(".", 1)[1]

    def weight_only(c: Case) -> bool:
        prec = precision(c.dtype, c.kv_dtype)
        return (
            c.mode != "serving"
            and c.device == number.name
            and prec.weights == weights
            and prec.weight_bytes < prec.act_bytes
        )

    fit = number.checked_cases(
        catalog,
        cases,
        weight_only,
        f"fixed-batch {weights} weight-only case on {number.name}",
        held_out,
    )

    def too_slow(frac: float) -> float:  # decreasing: a higher fraction predicts more tokens/s
        cat = with_overrides(catalog, number.override(frac))
        return -statistics.fmean(predict(c, cat).error_pct for c in fit)

    return bisect_decreasing(too_slow, 0.01, 1.0, 20)


def zero_prior(catalog: Catalog, number: Calibrated) -> float:
    """The neutral value 0: no drift, no framework cost."""
    return 0.0


def hbm_fraction_prior(catalog: Catalog, number: Calibrated) -> float:
    """The card's plain ``hbm_fraction``: weight-only kernels stream like unquantized ones."""
    return float(catalog.device(number.name).efficiency.hbm_fraction)


#: Every fitted number of the project (a test keeps this list equal to the ``conf: C`` numbers
#: of the shipped catalog files, and each shipped value equal to its refit).
CALIBRATED: tuple[Calibrated, ...] = (
    Calibrated(
        "routing",
        "production",
        "drift",
        "production routing drift",
        3,
        refit_routing_drift,
        zero_prior,
        "0: every batch routes with the long-run (uniform) popularity",
    ),
    Calibrated(
        "framework",
        "sglang-ascend",
        "decode_token_layer_cost",
        "framework sglang-ascend decode_token_layer_cost",
        7,
        refit_framework_cost,
        zero_prior,
        "0: no framework cost beyond the card's roofline and iteration overhead",
        "s",
    ),
    *(
        Calibrated(
            "device",
            "a100-sxm4-80gb",
            f"efficiency.dequant_hbm_fraction.{dtype}",
            f"a100-sxm4-80gb weight-only {dtype.upper()} dequant HBM fraction",
            2,
            refit_dequant_fraction,
            hbm_fraction_prior,
            "the card's hbm_fraction: weight-only kernels stream like plain ones",
        )
        for dtype in ("int8", "int4")
    ),
)


def calibrations(catalog: Catalog, source: str | Path | None = None) -> list[dict[str, Any]]:
    """Every fitted number of ``CALIBRATED`` next to its refit on the current model and cases
    (SI units): ``name``, ``key`` (where it lives), ``shipped``, ``refit``, ``fit_cases``."""
    cases = {c.id: c for c in load_cases(source, catalog)}
    return [
        {
            "name": n.label,
            "key": n.key,
            "shipped": n.shipped(catalog),
            "refit": n.refit(catalog, cases),
            "fit_cases": list(n.fit_cases(catalog)),
        }
        for n in CALIBRATED
    ]
