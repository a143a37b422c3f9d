"""Published measurements as validation cases, and the error table.

Case files live in ``workloads/validation/*.yaml`` (any catalog root); each holds a list of
cases in accelsim's own format (documented in ``docs/validation.md``). A case names a device,
model, precision, plan, routing profile and one fixed batch, and the metric it measured; the
timing model predicts the metric from one ``PerfModel.step`` and the signed error is
``(predicted - measured) / measured``.

Serving cases (``mode: serving``) carry an inline ``scenario`` (the fields of
``accelsim.run.scenario.Scenario``: model, device, plan or disaggregated pools, dtype, scheduler,
closed-loop or open-loop traffic, no SLOs); ``run_scenario`` simulates it and the metric is
read from the run summary (``SERVING_METRICS``: output tokens/s of the whole deployment,
requests/s, mean TTFT, mean TPOT). A case-level ``spec`` (published accept length) becomes the
scenario's speculative decoding; its ``draft_model`` (EAGLE/EAGLE3 cases) names the separate
draft model whose weights, KV pool and forward passes are charged.

Case ``status``: ``active`` (predicted and scored), ``pending`` (waiting on something the
``reason`` names), ``skipped`` (cannot be expressed honestly; ``reason`` says why). ``split``:
``fit`` cases may inform a shared parameter, ``check`` cases never do; errors are reported for
both, overall, per split, per device and per mode.

Shared, fitted parameters (the only ones; every card and fabric number comes from the catalog):

- ``ROUTING_PROFILES["production"]``: real (non-idealised) expert routing. Long-run popularity
  is uniform (``PRODUCTION_SKEW`` = 0, the Zipf exponent). The models are trained for
  balanced long-run expert load: DeepSeek-V3's auxiliary-loss-free bias balancing (technical
  report, arXiv 2412.19437, sec. 2.1.2) and Qwen3's global-batch load-balancing loss. An EPLB
  placement built on history also balances any long-run skew. The previous assumption, Zipf 1.0,
  put 16 % of all assignments on the hottest of 256 experts (41x the mean). At one expert per die
  (EP320 on CloudMatrix384) no redundancy budget can flatten that, so it priced that rank 6.7x the
  mean. Each priced batch drifts from the long-run popularity by a log-normal factor
  ``exp(PRODUCTION_DRIFT * Z)`` per expert that an EPLB placement built on history cannot see
  (``accelsim.model.routing``). ``PRODUCTION_DRIFT`` is fitted once by ``fit_production_drift``:
  bisection until the predicted *ratio* of the ``fit`` case ``sglang-h100-ep32-prefill-4k``
  (default EPLB) to its ``reference`` sibling ``sglang-h100-ep32-prefill-4k-perfect-eplb``
  (idealised balance) equals the measured ratio 6,287.75 / 7,417.125 = 0.848. Fitting a ratio
  isolates the routing mechanism from every other modelling error. The CloudMatrix384 pair
  (5,655 / 6,688 = 0.846) is the independent check. The value is then applied unchanged to every
  case that does not claim perfect balance.
- Framework profiles (``devices/frameworks/*.yaml``,
``accelsim.catalog.devices.FrameworkProfile``): a
  serving framework's cost on one vendor's cards that the roofline does not price, calibrated by
  ``fit_framework_cost`` on the serving cases the profile's ``fit_cases`` names (each must be a
  ``split: fit`` case): bisection on ``decode_token_layer_cost`` until the mean signed error of
  those cases is zero. The shipped value is that refit, rounded to 0.1 us.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from accelsim.catalog.loader import Catalog, format_validation_error, read_yaml, with_overrides
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError, CatalogError
from accelsim.model.batch import BatchStats
from accelsim.model.perf import PerfModel, SpecDecode, StepTime, perf_model_from_catalog
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel
from accelsim.run.scenario import FrameworkSpec, Scenario, run_scenario

__all__ = [
    "METRICS",
    "PRODUCTION_DRIFT",
    "PRODUCTION_SKEW",
    "REPORTED_KEYS",
    "ROUTING_PROFILES",
    "SERVING_METRICS",
    "Case",
    "CaseResult",
    "ValidationReport",
    "calibrations",
    "fit_framework_cost",
    "fit_production_drift",
    "load_cases",
    "predict",
    "predict_serving",
    "run_validation",
]

#: Zipf skew of long-run popularity in "production" routing: 0, uniform (see module docs).
PRODUCTION_SKEW = 0.0
#: Per-batch drift of "production" routing, fitted by ``fit_production_drift`` on the fit pair
#: sglang-h100-ep32-prefill-4k / -perfect-eplb (measured ratio 0.848); refitted (0.23 -> 0.238)
#: when FP8 GEMM and per-fabric collective fractions changed the pair's compute/network balance,
#: (0.238 -> 0.306) when DeepEP's SM share under overlap and the FlashMLA attention fraction
#: changed it again, (0.306 -> 0.308) when the long-run skew went from Zipf 1.0 to uniform, and
#: (0.308 -> 0.315) when the elementwise kernels' HBM traffic (norms, RoPE, activation,
#: quantisation, MoE permute/unpermute) was added to the step.
PRODUCTION_DRIFT = 0.315


def production_routing(drift: float = PRODUCTION_DRIFT) -> RoutingModel:
    """The ``production`` routing profile with a given drift."""
    return RoutingModel(kind="zipf", skew=PRODUCTION_SKEW, drift=drift, seed=0)


ROUTING_PROFILES: dict[str, RoutingModel] = {
    "uniform": RoutingModel(),
    "production": production_routing(),
}

#: serving metric -> (unit, path of the value in the run summary)
SERVING_METRICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "output_tokens_per_s_total": ("tokens/s", ("throughput", "output_tokens_per_s")),
    "requests_per_s": ("requests/s", ("throughput", "requests_per_s")),
    "mean_ttft_s": ("s", ("ttft_s", "mean")),
    "mean_tpot_s": ("s", ("tpot_s", "mean")),
}
#: metric -> unit (fixed-batch metrics, then serving metrics)
METRICS = {
    "prefill_tokens_per_s_per_card": "tokens/s/card",
    "decode_tokens_per_s_per_card": "tokens/s/card",
    "decode_tokens_per_s_per_user": "tokens/s/user",
    "tpot_s": "s",
    "ttft_s": "s",
    **{k: unit for k, (unit, _path) in SERVING_METRICS.items()},
}
FIXED_BATCH_METRICS = tuple(k for k in METRICS if k not in SERVING_METRICS)
STATUSES = ("active", "pending", "skipped")
#: Published secondary values a serving case may carry (``reported``), used only to decompose
#: the error (``CaseResult.decomposition``), never predicted or scored: bench_serving's mean TPOT
#: and mean TTFT (seconds) and its "Concurrency" (sum of E2E latencies over the duration).
REPORTED_KEYS = ("mean_tpot_s", "mean_ttft_s", "concurrency")
_PLAN_KEYS = {"tp", "dp", "pp", "ep", "redundant_experts", "micro_batch_overlap"}


@dataclass(frozen=True)
class Case:
    """One validation case (see ``docs/validation.md`` for the file format)."""

    id: str
    status: str
    mode: str
    metric: str | None
    measured: float | None
    device: str
    model: str | None = None
    dtype: str = "bf16"
    kv_dtype: str | None = None
    cards: float | None = None
    plan: ParallelPlan | None = None
    routing: str = "uniform"
    batch: dict[str, float] = field(default_factory=dict)
    spec: SpecDecode | None = None
    scale: float = 1.0
    server: str | None = None
    split: str = "check"
    reference: str | None = None
    reason: str | None = None
    file: str | None = None
    scenario: Scenario | None = None
    reported: dict[str, float] = field(default_factory=dict)
    #: Fixed-batch cases: the framework that measured it (its per-iteration overhead replaces
    #: the card's, and its profile on the card's vendor applies), as a serving scenario's.
    framework: FrameworkSpec | None = None

    @property
    def unit(self) -> str:
        return METRICS.get(self.metric or "", "")

    def batch_stats(self) -> BatchStats:
        """The replica-level batch of the case."""
        b = self.batch
        if self.mode == "decode":
            return BatchStats.decode(int(b["decode_seqs"]), float(b["context"]))
        seqs = int(b.get("prefill_seqs", 1))
        new = int(b["prompt_tokens"])
        prior = int(b.get("cached_tokens", 0))
        one = BatchStats.prefill_chunk(new, prior)
        return BatchStats(
            prefill_seqs=seqs,
            prefill_tokens=seqs * new,
            prefill_attention_pairs=seqs * one.prefill_attention_pairs,
            prefill_context_tokens=seqs * one.prefill_context_tokens,
        )


@dataclass(frozen=True)
class CaseResult:
    """Measured against predicted for one active case: the ``step`` of a fixed-batch case or
    the run ``summary`` of a serving case."""

    case: Case
    predicted: float
    step: StepTime | None = None
    summary: dict[str, Any] | None = None
    decode_seqs_mean: float | None = None  # simulated, time-averaged over the run

    def decomposition(self) -> dict[str, float]:
        """A serving error split into the batch the scheduler formed and the iteration time.

        Simulated: ``decode_seqs`` (decoding sequences, time-averaged over the makespan, all
        replicas), ``iteration_s`` (mean duration of decode iterations, weighted by their
        sequences: the run's ``itl_s`` mean), ``tpot_s``, ``ttft_s``. Source-implied, for an
        ``output_tokens_per_s_total`` case with ``reported.mean_tpot_s`` (Little's law on the
        decode phase): ``src_decode_seqs = T / L * TPOT * (L - 1)`` for measured output tokens/s
        ``T`` and mean output length ``L``, ``src_iteration_s = TPOT * tokens_per_step`` (the
        published accept length; 1 without speculative decoding). Output tokens/s over the
        makespan is ``decode_seqs * tokens_per_step / iteration`` on both sides (prefill stalls,
        ramp-up and tail lower the time-averaged ``decode_seqs``), so the throughput error factor
        is ``batch_ratio / iteration_ratio``: a scheduler that forms a different batch shows in
        ``batch_ratio``, a timing model that prices the iteration wrong in ``iteration_ratio``.
        Empty for fixed-batch cases.
        """
        s, c = self.summary, self.case
        if s is None or self.decode_seqs_mean is None:
            return {}
        out = {
            "decode_seqs": self.decode_seqs_mean,
            "iteration_s": float(s.get("itl_s", {}).get("mean", math.nan)),
            "tpot_s": float(s["tpot_s"]["mean"]),
            "ttft_s": float(s["ttft_s"]["mean"]),
        }
        tpot = c.reported.get("mean_tpot_s")
        if c.metric != "output_tokens_per_s_total" or tpot is None or not s["completed"]:
            return out
        length = s["throughput"]["output_tokens_per_s"] * s["duration_s"] / s["completed"]
        step = c.spec.tokens_per_step if c.spec is not None else 1.0
        measured = c.measured or 0.0
        out["src_decode_seqs"] = measured / length * tpot * (length - 1.0)
        out["src_iteration_s"] = tpot * step
        out["batch_ratio"] = out["decode_seqs"] / out["src_decode_seqs"]
        out["iteration_ratio"] = out["iteration_s"] / out["src_iteration_s"]
        if "mean_ttft_s" in c.reported:
            out["src_ttft_s"] = c.reported["mean_ttft_s"]
        return out

    @property
    def bound(self) -> str:
        """The fixed-batch step's bound; ``serving`` for a simulated run."""
        return self.step.bound if self.step is not None else "serving"

    @property
    def error_pct(self) -> float:
        m = self.case.measured or 0.0
        return (self.predicted - m) / m * 100.0

    def as_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id,
            "metric": c.metric,
            "unit": c.unit,
            "measured": c.measured,
            "predicted": self.predicted,
            "error_pct": self.error_pct,
            "split": c.split,
            "mode": c.mode,
            "device": c.device,
            "model": c.model,
            "bound": self.bound,
        }


def _agg(errors: list[float]) -> dict[str, float | int]:
    a = [abs(e) for e in errors]
    return {
        "n": len(a),
        "median_abs_error_pct": statistics.median(a) if a else math.nan,
        "max_abs_error_pct": max(a) if a else math.nan,
    }


@dataclass(frozen=True)
class ValidationReport:
    """Results of active cases plus the pending and skipped ones."""

    results: list[CaseResult]
    pending: list[Case]
    skipped: list[Case]

    @property
    def errors(self) -> list[float]:
        return [r.error_pct for r in self.results]

    @property
    def median_abs_error_pct(self) -> float:
        return float(_agg(self.errors)["median_abs_error_pct"])

    @property
    def max_abs_error_pct(self) -> float:
        return float(_agg(self.errors)["max_abs_error_pct"])

    def by(self, key: str) -> dict[str, dict[str, float | int]]:
        groups: dict[str, list[float]] = {}
        for r in self.results:
            groups.setdefault(getattr(r.case, key), []).append(r.error_pct)
        return {k: _agg(v) for k, v in sorted(groups.items())}

    def as_dict(self) -> dict[str, Any]:
        return {
            "cases": [r.as_dict() for r in self.results],
            "median_abs_error_pct": self.median_abs_error_pct,
            "max_abs_error_pct": self.max_abs_error_pct,
            "by_hardware": self.by("device"),
            "by_split": self.by("split"),
            "by_mode": self.by("mode"),
            "pending": [{"id": c.id, "mode": c.mode, "reason": c.reason} for c in self.pending],
            "skipped": [{"id": c.id, "reason": c.reason} for c in self.skipped],
        }

    def markdown(self) -> str:
        """The error table as Markdown: every active case (sorted by signed error), then the
        aggregates overall and by mode, split and device. Deterministic for the same cases."""
        lines = [
            "| case | mode | split | device | metric | measured | predicted | error |",
            "|---|---|---|---|---|---:|---:|---:|",
        ]
        for r in sorted(self.results, key=lambda r: (r.error_pct, r.case.id)):
            c = r.case
            lines.append(
                f"| {c.id} | {c.mode} | {c.split} | {c.device} | {c.metric} [{c.unit}] | "
                f"{c.measured:.4g} | {r.predicted:.4g} | {r.error_pct:+.1f} % |"
            )
        lines += [
            "",
            "| group | cases | median \\|error\\| | max \\|error\\| |",
            "|---|---:|---:|---:|",
        ]
        groups = [("all", _agg(self.errors))]
        for key in ("mode", "split", "device"):
            groups += [(f"{key} {k}", v) for k, v in self.by(key).items()]
        for name, g in groups:
            lines.append(
                f"| {name} | {g['n']} | {g['median_abs_error_pct']:.1f} % | "
                f"{g['max_abs_error_pct']:.1f} % |"
            )
        return "\n".join(lines) + "\n"


# ---- reading case files ---------------------------------------------------------------------
def _case(raw: Any, where: str) -> Case:
    if not isinstance(raw, dict) or "id" not in raw:
        raise CatalogError(f"{where}: every case must be a mapping with an id")
    cid = raw["id"]
    at = f"{where}: case {cid}"
    status = raw.get("status", "active")
    if status not in STATUSES:
        raise CatalogError(f"{at}: status {status!r} is not one of {', '.join(STATUSES)}")
    mode = raw.get("mode", "")
    if status != "active":
        return Case(
            id=cid,
            status=status,
            mode=mode,
            metric=raw.get("metric"),
            measured=raw.get("measured"),
            device=raw.get("device", ""),
            model=raw.get("model"),
            reason=raw.get("reason"),
            file=where,
            split=raw.get("split", "check"),
        )
    split = raw.get("split", "check")
    if split not in ("fit", "check"):
        raise CatalogError(f"{at}: split must be fit or check")
    if mode == "serving":
        return _serving_case(raw, at, where, split)
    metric = raw.get("metric")
    if metric not in FIXED_BATCH_METRICS:
        raise CatalogError(
            f"{at}: metric {metric!r} is not one of {', '.join(FIXED_BATCH_METRICS)}"
        )
    if mode not in ("prefill", "decode"):
        raise CatalogError(
            f"{at}: an active case needs mode prefill, decode or serving (got {mode!r})"
        )
    plan_raw = raw.get("plan") or {}
    unknown = set(plan_raw) - _PLAN_KEYS
    if unknown:
        raise CatalogError(f"{at}: unknown plan keys {', '.join(sorted(unknown))}")
    try:
        plan = ParallelPlan(**plan_raw)
    except (TypeError, AccelsimError) as exc:
        raise CatalogError(f"{at}: plan: {exc}") from None
    routing = raw.get("routing", "uniform")
    if routing not in ROUTING_PROFILES:
        raise CatalogError(f"{at}: routing {routing!r} unknown ({', '.join(ROUTING_PROFILES)})")
    spec = _spec(raw.get("spec"), at)
    batch = raw.get("batch") or {}
    need = ("decode_seqs", "context") if mode == "decode" else ("prompt_tokens",)
    missing = [n for n in need if n not in batch]
    if missing:
        raise CatalogError(f"{at}: batch needs {', '.join(missing)}")
    return Case(
        id=cid,
        status=status,
        mode=mode,
        metric=metric,
        measured=float(raw["measured"]),
        device=raw["device"],
        model=raw["model"],
        dtype=raw.get("dtype", "bf16"),
        kv_dtype=raw.get("kv_dtype"),
        cards=raw.get("cards"),
        plan=plan,
        routing=routing,
        batch={k: float(v) for k, v in batch.items()},
        spec=spec,
        scale=float(raw.get("scale", 1.0)),
        server=raw.get("server"),
        split=split,
        reference=raw.get("reference"),
        file=where,
        framework=_framework(raw.get("framework"), at),
    )


def _framework(fraw: Any, at: str) -> FrameworkSpec | None:
    if fraw is None:
        return None
    try:
        return FrameworkSpec.model_validate(fraw)
    except ValidationError as exc:
        raise CatalogError(format_validation_error(f"{at}: framework", exc)) from None


def _spec(sraw: Any, at: str) -> SpecDecode | None:
    if not sraw:
        return None
    k = int(sraw.get("draft_tokens", 1))
    method = sraw.get("method", "mtp")
    draft = sraw.get("draft_model")
    if draft is not None and (not isinstance(draft, str) or method == "mtp"):
        raise CatalogError(
            f"{at}: spec.draft_model must name an EAGLE draft model of workloads/models/ "
            f"(method eagle or eagle3; got {draft!r} with method {method})"
        )
    if "accept_rate" in sraw:
        return SpecDecode(method, k, float(sraw["accept_rate"]), draft)
    if "accept_length" in sraw:
        return SpecDecode.from_accept_length(method, k, float(sraw["accept_length"]), draft)
    raise CatalogError(f"{at}: spec needs accept_rate or accept_length")


def _serving_case(raw: dict[str, Any], at: str, where: str, split: str) -> Case:
    """An active serving case: its inline scenario validated now (errors name the case)."""
    metric = raw.get("metric")
    if metric not in SERVING_METRICS:
        raise CatalogError(
            f"{at}: a serving case's metric must be one of {', '.join(SERVING_METRICS)} "
            f"(got {metric!r})"
        )
    sraw = raw.get("scenario")
    if not isinstance(sraw, dict):
        raise CatalogError(f"{at}: a serving case needs a scenario mapping")
    sraw = {"name": raw["id"], **sraw}
    spec = _spec(raw.get("spec"), at)
    if spec is not None:
        if "speculative" in sraw:
            raise CatalogError(f"{at}: give spec or scenario.speculative, not both")
        sraw["speculative"] = {
            "method": spec.method,
            "draft_tokens": spec.draft_tokens,
            "acceptance": spec.accept_rate,
        }
        if spec.draft_model is not None:
            sraw["speculative"]["draft_model"] = spec.draft_model
    if sraw.get("slo"):
        raise CatalogError(f"{at}: serving cases are SLO-free (scenario.slo must be empty)")
    reported = _reported(raw.get("reported"), at)
    try:
        sc = Scenario.model_validate(sraw)
    except ValidationError as exc:
        raise CatalogError(format_validation_error(f"{at}: scenario", exc)) from None
    return Case(
        id=raw["id"],
        status="active",
        mode="serving",
        metric=metric,
        measured=float(raw["measured"]),
        device=sc.device,
        model=sc.model,
        dtype=sc.dtype,
        kv_dtype=sc.kv_dtype,
        cards=raw.get("cards"),
        spec=spec,
        scale=float(raw.get("scale", 1.0)),
        split=split,
        file=where,
        scenario=sc,
        reported=reported,
    )


def _reported(rraw: Any, at: str) -> dict[str, float]:
    """A serving case's ``reported`` mapping: positive numbers under ``REPORTED_KEYS``."""
    if rraw is None:
        return {}
    if not isinstance(rraw, dict):
        raise CatalogError(f"{at}: reported must be a mapping of {', '.join(REPORTED_KEYS)}")
    out: dict[str, float] = {}
    for k, v in rraw.items():
        if k not in REPORTED_KEYS:
            raise CatalogError(
                f"{at}: reported.{k} is unknown (expected one of {', '.join(REPORTED_KEYS)})"
            )
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            raise CatalogError(f"{at}: reported.{k} must be a positive number (got {v!r})")
        out[k] = float(v)
    return out


def load_cases(source: str | Path | None = None, catalog: Catalog | None = None) -> list[Case]:
    """Cases from one file, or from every ``workloads/validation/*.yaml`` of the catalog."""
    if source is not None:
        paths = [Path(source)]
        if not paths[0].is_file():
            raise AccelsimError(f"validation file {str(source)!r} does not exist")
    else:
        if catalog is None:
            raise AccelsimError("load_cases needs a file or a catalog")
        paths = list(catalog.folder_files("workloads/validation").values())
    cases: list[Case] = []
    seen: set[str] = set()
    for path in paths:
        data = read_yaml(path)
        if isinstance(data, dict) and "cases" in data:
            data = data["cases"]
        if not isinstance(data, list):
            raise CatalogError(f"{path}: expected a list of cases")
        for raw in data:
            case = _case(raw, str(path))
            if case.id in seen:
                raise CatalogError(f"{path}: duplicate case id {case.id!r}")
            seen.add(case.id)
            cases.append(case)
    return cases


# ---- predicting -----------------------------------------------------------------------------
def perf_model_for(case: Case, catalog: Catalog, routing: RoutingModel | None = None) -> PerfModel:
    """The ``PerfModel`` a case describes."""
    assert case.plan is not None and case.model is not None
    prec = precision(case.dtype, case.kv_dtype)
    fw = case.framework
    pm = perf_model_from_catalog(
        catalog,
        case.model,
        case.device,
        case.plan,
        prec,
        routing=routing or ROUTING_PROFILES[case.routing],
        spec=case.spec,
        server=case.server,
        iteration_overhead=fw.iteration_overhead if fw is not None else None,
        framework=fw.name if fw is not None else None,
    )
    if case.cards is not None and not math.isclose(pm.cards, float(case.cards)):
        raise CatalogError(
            f"{case.file}: case {case.id}: plan uses {pm.cards:g} cards but cards is {case.cards}"
        )
    return pm


def predict_serving(case: Case, catalog: Catalog) -> CaseResult:
    """Simulate a serving case's scenario and read its metric from the run summary."""
    assert case.scenario is not None and case.metric is not None
    result = run_scenario(case.scenario, catalog)
    summary = result.summary
    at = f"{case.file}: case {case.id}"
    if summary["completed"] != summary["arrived"]:
        raise CatalogError(
            f"{at}: {summary['arrived'] - summary['completed']} of {summary['arrived']} requests "
            f"did not complete ({summary['rejected_by_reason']}); the scenario cannot serve them"
        )
    cards = summary["cards"]  # packages (the scenario's plans count ranks)
    if case.cards is not None and not math.isclose(cards, float(case.cards)):
        raise CatalogError(f"{at}: the scenario uses {cards:g} cards but cards is {case.cards}")
    value: Any = summary
    for key in SERVING_METRICS[case.metric][1]:
        value = value[key]
    decoding = float(sum(result.timeline.decoding)) / summary["duration_s"]
    return CaseResult(case, float(value) * case.scale, summary=summary, decode_seqs_mean=decoding)


def predict(case: Case, catalog: Catalog, routing: RoutingModel | None = None) -> CaseResult:
    """Predict the case's metric: one iteration of its batch, or a simulated serving run."""
    if case.mode == "serving":
        return predict_serving(case, catalog)
    pm = perf_model_for(case, catalog, routing)
    step = pm.step(case.batch_stats())
    t = step.total_s
    metric = case.metric
    if metric in ("prefill_tokens_per_s_per_card", "decode_tokens_per_s_per_card"):
        value = step.tokens / t / pm.cards
    elif metric == "decode_tokens_per_s_per_user":
        value = pm.tokens_per_decode_step / t
    elif metric == "tpot_s":
        value = t / pm.tokens_per_decode_step
    elif metric == "ttft_s":
        value = t
    else:  # pragma: no cover - guarded by _case
        raise AccelsimError(f"metric {metric!r} cannot be predicted")
    return CaseResult(case, value * case.scale, step=step)


def run_validation(catalog: Catalog, source: str | Path | None = None) -> ValidationReport:
    """Predict every active case; list pending and skipped ones."""
    cases = load_cases(source, catalog)
    results = [predict(c, catalog) for c in cases if c.status == "active"]
    return ValidationReport(
        results=results,
        pending=[c for c in cases if c.status == "pending"],
        skipped=[c for c in cases if c.status == "skipped"],
    )


def fit_production_drift(catalog: Catalog, source: str | Path | None = None) -> float:
    """Bisect the drift of ``production`` routing so that the ``fit`` cases using it match on
    average: a case with a ``reference`` (its idealised-balance sibling) is matched on the
    ratio measured/measured_ref, one without on its value. Never reads ``check`` cases."""
    cases = load_cases(source, catalog)
    by_id = {c.id: c for c in cases}
    fit = [
        c for c in cases if c.status == "active" and c.split == "fit" and c.routing == "production"
    ]
    if not fit:
        raise AccelsimError("no active fit cases use production routing")

    def mean_err(drift: float) -> float:
        r = production_routing(drift)
        errs = []
        for c in fit:
            pred = predict(c, catalog, r).predicted
            if c.reference:
                ref = by_id[c.reference]
                pred_ref = predict(ref, catalog).predicted
                errs.append((pred / pred_ref) / ((c.measured or 1) / (ref.measured or 1)) - 1)
            else:
                errs.append(pred / (c.measured or 1) - 1)
        return sum(errs) / len(errs)

    return round(_bisect_decreasing(mean_err, 0.0, 2.0, 25), 3)


def _bisect_decreasing(f: Callable[[float], float], lo: float, hi: float, steps: int) -> float:
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


def fit_framework_cost(
    catalog: Catalog, profile: str, source: str | Path | None = None, *, tol_s: float = 5e-8
) -> float:
    """Bisect ``decode_token_layer_cost`` of framework profile ``profile`` (seconds) until the
    mean signed error of the serving cases its ``fit_cases`` names is zero, to ``tol_s``.
    Each named case must be active, ``split: fit`` and run that framework on that vendor's
    cards; ``check`` cases are never read."""
    prof = catalog.get("framework", profile)
    by_id = {c.id: c for c in load_cases(source, catalog)}
    fit = []
    for cid in prof.fit_cases:
        c = by_id.get(cid)
        ok = (
            c is not None
            and c.status == "active"
            and c.split == "fit"
            and c.scenario is not None
            and c.scenario.framework is not None
            and c.scenario.framework.name == prof.framework
            and catalog.device(c.device).vendor == prof.vendor
        )
        if not ok:
            raise AccelsimError(
                f"framework {profile}: fit case {cid!r} must be an active split: fit serving case "
                f"of {prof.framework} on {prof.vendor} cards"
            )
        fit.append(c)
    if not fit:
        raise AccelsimError(f"framework {profile}: no fit_cases")

    def mean_err(cost: float) -> float:
        cat = with_overrides(catalog, {f"framework.{profile}.decode_token_layer_cost": cost})
        return statistics.fmean(predict_serving(c, cat).error_pct for c in fit)

    hi = 1e-4
    return round(_bisect_decreasing(mean_err, 0.0, hi, math.ceil(math.log2(hi / tol_s))), 7)


def calibrations(catalog: Catalog, source: str | Path | None = None) -> list[dict[str, Any]]:
    """Every fitted number next to its refit on the current model and cases: the production
    routing drift and each framework profile's decode token-layer cost (SI units). A shipped
    value that differs from its refit means the model or the fit cases changed since the fit."""
    out: list[dict[str, Any]] = [
        {
            "name": "production routing drift",
            "key": "accelsim.validate.cases.PRODUCTION_DRIFT",
            "shipped": PRODUCTION_DRIFT,
            "refit": fit_production_drift(catalog, source),
            "fit_cases": [
                c.id
                for c in load_cases(source, catalog)
                if c.status == "active" and c.split == "fit" and c.routing == "production"
            ],
        }
    ]
    for name in catalog.names("framework"):
        prof = catalog.get("framework", name)
        if not prof.fit_cases:
            continue
        out.append(
            {
                "name": f"framework {name} decode_token_layer_cost",
                "key": f"framework.{name}.decode_token_layer_cost",
                "shipped": prof.decode_token_layer_cost,
                "refit": fit_framework_cost(catalog, name, source),
                "fit_cases": list(prof.fit_cases),
            }
        )
    return out


def with_routing(case: Case, routing: str) -> Case:
    """The case with another routing profile (for what-if tables)."""
    return replace(case, routing=routing)


def dump_cases(cases: list[dict[str, Any]]) -> str:
    """YAML text of raw case mappings (stable key order)."""
    return yaml.safe_dump(cases, sort_keys=False, width=100, allow_unicode=True)
