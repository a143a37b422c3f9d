"""Validation cases: the case schema and the reading of case files.

Case files live in ``workloads/validation/*.yaml`` (any catalog root); each holds a list of
cases in accelsim's own format (documented in ``docs/validation.md``). A case names a device,
model, precision, plan, routing profile (``workloads/routing/``) and one fixed batch, and the
metric it measured; ``accelsim.validate.predict`` predicts the metric and scores the signed
error ``(predicted - measured) / measured``.

Serving cases (``mode: serving``) carry an inline ``scenario`` (the fields of
``accelsim.run.scenario.Scenario``: model, device, plan or disaggregated pools, dtype, scheduler,
closed-loop or open-loop traffic, no SLOs); the metric is read from its run summary
(``SERVING_METRICS``: output tokens/s of the whole deployment, requests/s, mean TTFT, mean TPOT).
A case-level ``spec`` (published accept length) becomes the scenario's speculative decoding; its
``draft_model`` (EAGLE/EAGLE3 cases) names the separate draft model whose weights, KV pool and
forward passes are charged.

Case ``status``: ``active`` (predicted and scored), ``pending`` (waiting on something the
``reason`` names), ``skipped`` (cannot be expressed honestly; ``reason`` says why),
``calibration`` (a published measurement that a fitted catalog number was fitted on, parsed like
an active case and always ``split: fit``, but predicted only by its refit in
``accelsim.validate.calibrate`` and never scored in the error table). ``split``: ``fit`` cases may
inform a shared parameter, ``check`` cases never do; errors are reported for both, overall, per
split, per device and per mode.

A case's ``source`` (``source_key``: its ``source.url`` without the scheme and, on GitHub,
without the commit or branch, else its ``source.title``) names the publication it comes from:
cases of one blog, paper or CI file share it, and cross-validation
(``accelsim.validate.crossval``) holds them out together.

Routing profile names are checked against the catalog when one is given to ``load_cases``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from accelsim.catalog.loader import INTERVALS_STEM, Catalog, format_validation_error, read_yaml
from accelsim.errors import AccelsimError, CatalogError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.plan import ParallelPlan, parse_plan
from accelsim.run.scenario import FrameworkSpec, Scenario

__all__ = [
    "FIXED_BATCH_METRICS",
    "INTERVALS_STEM",
    "METRICS",
    "REPORTED_KEYS",
    "SERVING_METRICS",
    "STATUSES",
    "Case",
    "load_cases",
    "source_key",
]

#: serving metric -> (unit, the run-summary metric it reads: ``accelsim.sim.metrics.METRICS``)
SERVING_METRICS: dict[str, tuple[str, str]] = {
    "output_tokens_per_s_total": ("tokens/s", "output_tokens_per_s"),
    "requests_per_s": ("requests/s", "requests_per_s"),
    "mean_ttft_s": ("s", "ttft_mean"),
    "mean_tpot_s": ("s", "tpot_mean"),
}
#: metric -> unit (fixed-batch metrics, then serving metrics)
METRICS = {
    "prefill_tokens_per_s_per_card": "tokens/s/card",
    "decode_tokens_per_s_per_card": "tokens/s/card",
    "decode_tokens_per_s_per_user": "tokens/s/user",
    "tpot_s": "s",
    "ttft_s": "s",
    **{k: unit for k, (unit, _metric) in SERVING_METRICS.items()},
}
FIXED_BATCH_METRICS = tuple(k for k in METRICS if k not in SERVING_METRICS)
STATUSES = ("active", "pending", "skipped", "calibration")
#: Published secondary values a serving case may carry (``reported``), used only to decompose
#: the error (``CaseResult.decomposition``), never predicted or scored: bench_serving's mean TPOT
#: and mean TTFT (seconds) and its "Concurrency" (sum of E2E latencies over the duration).
REPORTED_KEYS = ("mean_tpot_s", "mean_ttft_s", "concurrency")


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
    #: The publication the case comes from (``source_key``); ``None`` when it names none.
    source: str | None = None

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


# ---- reading case files ---------------------------------------------------------------------
_GITHUB_REF = re.compile(r"^(github\.com/[^/]+/[^/]+)/(?:blob|tree)/[^/]+/(.*)$")


def source_key(raw: Any) -> str | None:
    """The publication a case's ``source`` mapping names: its ``url`` without the scheme, a
    trailing slash or, for a GitHub file, the commit or branch (two commits of one file are one
    source); its ``title`` when it has no url; ``None`` when neither is given."""
    if not isinstance(raw, dict):
        return None
    url = raw.get("url")
    if isinstance(url, str) and url.strip():
        key = re.sub(r"^[a-z]+://", "", url.strip()).rstrip("/")
        m = _GITHUB_REF.match(key)
        return f"{m[1]}/{m[2]}" if m else key
    title = raw.get("title")
    return str(title) if title else None


def _case(raw: Any, where: str, routings: Collection[str] | None) -> Case:
    if not isinstance(raw, dict) or "id" not in raw:
        raise CatalogError(f"{where}: every case must be a mapping with an id")
    cid = raw["id"]
    at = f"{where}: case {cid}"
    status = raw.get("status", "active")
    if status not in STATUSES:
        raise CatalogError(f"{at}: status {status!r} is not one of {', '.join(STATUSES)}")
    mode = raw.get("mode", "")
    if status in ("pending", "skipped"):
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
            source=source_key(raw.get("source")),
        )
    split = raw.get("split", "check")
    if split not in ("fit", "check"):
        raise CatalogError(f"{at}: split must be fit or check")
    if status == "calibration" and split != "fit":
        raise CatalogError(f"{at}: a calibration case is a fit case (split: fit)")
    if mode == "serving":
        return _serving_case(raw, at, where, status, split)
    metric = raw.get("metric")
    if metric not in FIXED_BATCH_METRICS:
        raise CatalogError(
            f"{at}: metric {metric!r} is not one of {', '.join(FIXED_BATCH_METRICS)}"
        )
    if mode not in ("prefill", "decode"):
        raise CatalogError(
            f"{at}: an {status} case needs mode prefill, decode or serving (got {mode!r})"
        )
    plan_raw = raw.get("plan") or {}
    if not isinstance(plan_raw, dict):
        raise CatalogError(f"{at}: plan must be a mapping of plan keys (tp, ep, dp, ...)")
    try:
        plan = parse_plan(plan_raw)
    except AccelsimError as exc:
        raise CatalogError(f"{at}: plan: {exc}") from None
    routing = raw.get("routing", "uniform")
    if routings is not None and routing not in routings:
        raise CatalogError(
            f"{at}: routing {routing!r} unknown ({', '.join(routings)}; workloads/routing/)"
        )
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
        source=source_key(raw.get("source")),
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


def _serving_case(raw: dict[str, Any], at: str, where: str, status: str, split: str) -> Case:
    """An active or calibration serving case: its inline scenario validated now (errors name
    the case)."""
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
        status=status,
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
        source=source_key(raw.get("source")),
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
    """Cases from one file, or from every ``workloads/validation/*.yaml`` of the catalog (but
    ``intervals.yaml``); with a catalog, every routing profile a case names must be one of its
    ``workloads/routing/``."""
    if source is not None:
        paths = [Path(source)]
        if not paths[0].is_file():
            raise AccelsimError(f"validation file {str(source)!r} does not exist")
    else:
        if catalog is None:
            raise AccelsimError("load_cases needs a file or a catalog")
        files = catalog.folder_files("workloads/validation")
        paths = [path for stem, path in files.items() if stem != INTERVALS_STEM]
    routings = catalog.names("routing") if catalog is not None else None
    cases: list[Case] = []
    seen: set[str] = set()
    for path in paths:
        data = read_yaml(path)
        if isinstance(data, dict) and "cases" in data:
            data = data["cases"]
        if not isinstance(data, list):
            raise CatalogError(f"{path}: expected a list of cases")
        for raw in data:
            case = _case(raw, str(path), routings)
            if case.id in seen:
                raise CatalogError(f"{path}: duplicate case id {case.id!r}")
            seen.add(case.id)
            cases.append(case)
    return cases
