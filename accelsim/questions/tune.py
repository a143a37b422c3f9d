"""Configuration search (``accelsim tune``): the best serving plan for a card budget.

Given a scenario (model, traffic, dtype), a device, a budget of cards and SLOs, ``tune``

1. **enumerates** candidate deployments that use the whole budget (the budget counts cards —
   packages — and plan degrees count ranks, as in ``accelsim.model.plan``: ``ranks = cards * dies``;
   each candidate's scenario says ``cards`` in packages, as ``accelsim.run.scenario`` reads them):

   * a replica of ``s`` ranks for every divisor ``s`` of the budget, ``replicas = ranks / s``;
   * the replica plans of ``s`` ranks (``accelsim.model.plan.replica_plans`` with every expert
     layout): MoE models: attention ``tp`` in the divisors of ``s`` that fit in one scale-up
     domain, the rest DP attention (``dp = s / tp``), experts over ``ep`` in ``{tp, s}`` (plus
     ``ep = 1`` when ``dp = 1``); dense models: ``tp`` within the scale-up domain, pipeline
     stages ``pp = s / tp`` for the rest;
   * disaggregated prefill:decode pools (``DisaggSpec``) when the budget holds at least two
     replicas: both pools use the same replica shape, prefill takes ``n_p`` of the ``n``
     replicas for ``n_p`` in a small set of ratios (1 .. n-1, at most five evenly spread) —
     on a multi-die card only splits where each pool holds whole cards;
   * every plan crossed with a scheduler grid of ``max_batched_tokens`` x ``max_seqs``;

   a candidate whose plan does not fit in memory (``accelsim.model.plan.fit`` at the scenario's
   context and that scheduler's workspace) is pruned here, with the shortfall as its reason;
   with ``launch`` (a framework whose launch recipe the answer must be written in), so is one
   whose plan that framework cannot launch (``accelsim.model.launchable``), with the flag why;
2. **stage 1** scores every remaining candidate with the analytic evaluator
   (``accelsim.sweep.evaluators.analytic``, milliseconds each) and keeps the ``top_k`` best:
   those meeting the SLOs ranked by the objective, then — to fill ``top_k`` when fewer meet —
   the rest by SLO margin (so when none meets, the ``top_k`` closest are confirmed);
3. **stage 2** runs the simulator (``simulate``) on the survivors; the best is the highest
   objective among those meeting the SLOs (simulated p99s and no rejected request), or the
   largest SLO margin when none does.

Both stages are ``run_sweep`` sweeps (local process pool, or Ray), so points are seeded from
``seed`` and their own content: the answer is deterministic for a seed and executor-independent.

Objectives (``objective=``), each ranked among candidates meeting the SLOs:

* ``goodput`` (default): requests/s served within the SLOs — the simulator's
  ``goodput_requests_per_s``; the analytic stage uses its ``requests_per_s`` (0 when it misses
  the SLOs or saturates);
* ``throughput``: output tokens/s;
* ``usd_per_mtok``: cost per million output tokens (lower is better; ``estimate_tco``).

Values within 1 % count as equal (simulation noise at an unsaturated load makes every plan's
goodput the offered load); ties go to the larger SLO margin, then the lower $/Mtok, then the
first candidate in enumeration order. The SLO margin is ``min(target / achieved)`` over the
SLOs (``>= 1`` meets them; a missing figure — a saturated analytic point — counts as 0).
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from accelsim.catalog.devices import packages
from accelsim.catalog.loader import Catalog, format_validation_error, load_catalog
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.launchable import partition_launchable
from accelsim.model.plan import ParallelPlan, divisors, fit, replica_plans
from accelsim.run.resolve import draft_model, framework_profile, memory_options
from accelsim.run.scenario import Scenario, apply_scenario_overrides
from accelsim.sweep.context import catalog_inputs
from accelsim.sweep.executors import make_executor
from accelsim.sweep.runner import run_sweep
from accelsim.sweep.spec import apply_assignment, resolve_base, slo_number, sweep_from_mapping

__all__ = [
    "OBJECTIVES",
    "TUNE_SLO_METRICS",
    "Candidate",
    "TuneResult",
    "enumerate_candidates",
    "parse_slo",
    "tune",
]

OBJECTIVES = ("goodput", "throughput", "usd_per_mtok")
#: SLO metrics both evaluators report (seconds, upper bounds).
TUNE_SLO_METRICS = ("ttft_p50", "ttft_p99", "tpot_mean", "tpot_p99")
DEFAULT_BATCHED_TOKENS = (2048, 8192)
DEFAULT_MAX_SEQS = (64, 256)
_AXIS = "cards,plan,disaggregation,scheduler.max_batched_tokens,scheduler.max_seqs"
_TIE = math.log1p(0.01)  # objective values within 1 % are ties


# ---- candidates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One deployment of the whole budget: a monolithic plan, or prefill and decode pools."""

    index: int
    ranks: int
    plan: ParallelPlan | None = None  # monolithic
    prefill: ParallelPlan | None = None  # disaggregated
    decode: ParallelPlan | None = None
    max_batched_tokens: int = 8192
    max_seqs: int = 256
    dies: int = 1  # per card: ranks / dies is cards (packages)

    @property
    def cards(self) -> int:
        """The budget in cards (packages)."""
        return self.ranks // self.dies

    @property
    def disaggregated(self) -> bool:
        return self.prefill is not None

    @property
    def shape(self) -> ParallelPlan:
        """The plan of one replica (the same in both pools when disaggregated)."""
        shape = self.prefill if self.disaggregated else self.plan
        assert shape is not None
        return shape

    @property
    def plan_label(self) -> str:
        if self.prefill is not None and self.decode is not None:
            return f"P:{self.prefill.label()} | D:{self.decode.label()}"
        return self.shape.label()

    @property
    def label(self) -> str:
        return f"{self.plan_label} | mbt={self.max_batched_tokens},seqs={self.max_seqs}"

    def axis_value(self) -> list[Any]:
        """Values for the sweep's zipped axis ``_AXIS`` (scenario fields of this candidate; a
        plan as the text a sweep file holds)."""
        if self.prefill is not None and self.decode is not None:
            dis = {
                role: {"cards": p.ranks // self.dies, "plan": p.text()}
                for role, p in (("prefill", self.prefill), ("decode", self.decode))
            }
            return [None, None, dis, self.max_batched_tokens, self.max_seqs]
        return [self.cards, self.shape.text(), None, self.max_batched_tokens, self.max_seqs]

    def describe(self) -> dict[str, Any]:
        shape, pre, dec = self.shape, self.prefill, self.decode
        return {
            "candidate": self.index,
            "kind": "disaggregated" if self.disaggregated else "colocated",
            "plan": self.plan_label,
            "tp": shape.tp,
            "dp": shape.dp,
            "pp": shape.pp,
            "ep": shape.ep,
            "replica_cards": packages(shape.ranks_per_replica, self.dies),
            "replicas": pre.replicas + dec.replicas if pre and dec else shape.replicas,
            "prefill_replicas": pre.replicas if pre else None,
            "decode_replicas": dec.replicas if dec else None,
            "max_batched_tokens": self.max_batched_tokens,
            "max_seqs": self.max_seqs,
        }


def _ratios(n: int) -> list[int]:
    """Prefill replica counts out of ``n``: all of 1..n-1 up to five, else five spread evenly."""
    if n - 1 <= 5:
        return list(range(1, n))
    return sorted({max(1, min(n - 1, round(n * f))) for f in (1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3)})


def enumerate_candidates(
    sc: Scenario,
    catalog: Catalog,
    cards: int,
    *,
    batched_tokens: Sequence[int] = DEFAULT_BATCHED_TOKENS,
    max_seqs: Sequence[int] = DEFAULT_MAX_SEQS,
    disaggregation: bool = True,
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """The candidates for ``cards`` cards of ``sc.device``: ``(feasible, [(pruned, reason)])``
    in a fixed order (replica size, tp, ep, colocated before disaggregated, scheduler grid)."""
    if cards < 1:
        raise AccelsimError("tune: --cards must be at least 1")
    card = catalog.device(sc.device)
    model = catalog.model(sc.model)
    server = catalog.server_for(card)
    prec = precision(sc.dtype, sc.kv_dtype)
    ranks, domain = cards * card.dies, server.scale_up_domain_cards * card.dies
    grid = [(int(b), int(s)) for b in sorted(set(batched_tokens)) for s in sorted(set(max_seqs))]
    if not grid or any(b < 1 or s < 1 for b, s in grid):
        raise AccelsimError("tune: the scheduler grid needs positive max_batched_tokens/max_seqs")
    mtp = bool(sc.speculative and sc.speculative.method == "mtp")
    memory = memory_options(
        sc, draft_model(sc, catalog), profile=framework_profile(sc, catalog), ranks=ranks
    )
    ok: list[Candidate] = []
    pruned: list[tuple[Candidate, str]] = []
    n = 0
    for size in divisors(ranks):
        reps = ranks // size
        for shape in replica_plans(model, size, domain, expert_layouts=True):
            layouts: list[tuple[Any, Any, Any]] = [(replace(shape, replicas=reps), None, None)]
            if disaggregation and reps >= 2:
                layouts += [
                    (None, replace(shape, replicas=p), replace(shape, replicas=reps - p))
                    for p in _ratios(reps)
                    if (p * size) % card.dies == 0  # each pool holds whole cards
                ]
            for mbt, seqs in grid:
                mf = fit(
                    model,
                    card,
                    shape,
                    prec,
                    sc.context,
                    max_batched_tokens=mbt,
                    max_seqs=seqs,
                    include_mtp=mtp,
                    **memory,
                )
                for plan, pre, dec in layouts:
                    c = Candidate(n, ranks, plan, pre, dec, mbt, seqs, card.dies)
                    n += 1
                    if mf.fits:
                        ok.append(c)
                    else:
                        pruned.append(
                            (
                                c,
                                f"does not fit: short by {mf.shortfall / 2**30:.1f} GiB per "
                                f"rank for one {sc.context}-token sequence",
                            )
                        )
    return ok, pruned


# ---- SLOs and ranking ---------------------------------------------------------------------


def parse_slo(slo: str | dict[str, Any] | None, sc: Scenario | None = None) -> dict[str, float]:
    """``"ttft_p99=2s,tpot_p99=100ms"`` or a mapping -> ``{metric: seconds}``; with neither,
    the scenario's ``slo`` (``ttft`` and ``tpot`` as p99 bounds)."""
    if slo is None or slo == "" or slo == {}:
        out: dict[str, float] = {}
        if sc is not None and sc.slo.ttft is not None:
            out["ttft_p99"] = float(sc.slo.ttft)
        if sc is not None and sc.slo.tpot is not None:
            out["tpot_p99"] = float(sc.slo.tpot)
        return out
    items: dict[str, Any]
    if isinstance(slo, str):
        items = {}
        for part in filter(None, (p.strip() for p in slo.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise AccelsimError(f"--slo {slo!r}: expected METRIC=VALUE, e.g. ttft_p99=2s")
            items[key.strip()] = value.strip()
    else:
        items = dict(slo)
    out = {}
    for key, value in items.items():
        if key not in TUNE_SLO_METRICS:
            raise AccelsimError(
                f"--slo: unknown SLO metric {key!r} (known: {', '.join(TUNE_SLO_METRICS)})"
            )
        v = slo_number(key, value)
        if not v > 0:
            raise AccelsimError(f"--slo {key}: expected a positive time, got {value!r}")
        out[key] = v
    return out


def slo_margin(metrics: dict[str, Any], targets: dict[str, float]) -> float:
    """``min(target / achieved)`` over the SLOs (a missing figure counts as 0)."""
    margin = math.inf
    for key, target in targets.items():
        v = metrics.get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return 0.0
        margin = min(margin, target / v if v > 0 else math.inf)
    return margin


def _meets(metrics: dict[str, Any], targets: dict[str, float]) -> bool:
    if metrics.get("saturated") or (metrics.get("rejected") or 0) > 0:
        return False
    return slo_margin(metrics, targets) >= 1.0


def _objective(metrics: dict[str, Any], objective: str, meets: bool, simulated: bool) -> float:
    """The objective as "higher is better" (``usd_per_mtok`` negated; missing -> worst)."""
    if objective == "goodput":
        if simulated:
            return float(metrics.get("goodput_requests_per_s") or 0.0)
        return float(metrics.get("requests_per_s") or 0.0) if meets else 0.0
    if objective == "throughput":
        return float(metrics.get("output_tokens_per_s") or 0.0)
    usd = metrics.get("usd_per_mtok")
    return -float(usd) if usd is not None else -math.inf


def _bucket(score: float) -> float:
    if score == 0 or math.isinf(score):
        return score
    b = round(math.log(abs(score)) / _TIE)
    return b if score > 0 else -b - 1e9


def _rank_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key, best first: those meeting the SLOs by objective, then margin; the others by
    margin, then by the objective their saturated figures reach (``raw``)."""
    usd = row.get("usd_per_mtok")
    usd = usd if usd is not None else math.inf
    if row["meets_slo"]:
        return (0, -_bucket(row["objective"]), -row["slo_margin"], usd, row["candidate"])
    return (1, -row["slo_margin"], -_bucket(row["raw"]), usd, row["candidate"])


# ---- the result ---------------------------------------------------------------------------

_SHOWN = (
    "output_tokens_per_s",
    "requests_per_s",
    "ttft_p50",
    "ttft_p99",
    "tpot_p99",
    "usd_per_mtok",
    "busy_fraction",
)
_SIM_ONLY = ("goodput_requests_per_s", "goodput_share", "rejected", "completed")


@dataclass
class TuneResult:
    """The outcome of ``tune``: the best candidate and the evidence for every candidate."""

    scenario: str
    model: str
    device: str
    cards: int
    objective: str
    slo: dict[str, float]
    top_k: int
    seed: int
    evidence: list[dict[str, Any]] = field(repr=False)
    best: dict[str, Any] | None
    meets_slo: bool
    elapsed_s: float
    executor: str
    base: dict[str, Any] = field(repr=False, default_factory=dict)
    best_candidate: Candidate | None = field(repr=False, default=None)

    @property
    def counts(self) -> dict[str, int]:
        out = {"candidates": len(self.evidence), "pruned": 0, "analytic": 0, "simulated": 0}
        for row in self.evidence:
            out[row["stage"]] = out.get(row["stage"], 0) + 1
        return out

    @property
    def best_plan(self) -> str | None:
        return self.best["plan"] if self.best else None

    def best_scenario(self) -> dict[str, Any]:
        """The scenario mapping of the best candidate (for ``run``/``size``/``compare``)."""
        if self.best_candidate is None:
            raise AccelsimError(f"tune: no candidate of {self.device} fits {self.cards} cards")
        data = dict(self.base)
        data["scheduler"] = dict(data.get("scheduler") or {})
        for key, value in zip(_AXIS.split(","), self.best_candidate.axis_value(), strict=True):
            apply_assignment(data, key, value)
        return data

    def top(self, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` best simulated candidates, best first."""
        return [r for r in self.evidence if r["stage"] == "simulated"][:n]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "model": self.model,
            "device": self.device,
            "cards": self.cards,
            "objective": self.objective,
            "slo": self.slo,
            "top_k": self.top_k,
            "seed": self.seed,
            "executor": self.executor,
            "elapsed_s": self.elapsed_s,
            "meets_slo": self.meets_slo,
            "counts": self.counts,
            "best": self.best,
            "evidence": self.evidence,
        }

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.evidence)


# ---- the search ---------------------------------------------------------------------------


def _catalog_inputs(catalog: Any, overrides: Any) -> tuple[Catalog, list[str], dict[str, str]]:
    """The catalog, the user folders workers must read, and the catalog overrides as a sweep
    ``set`` mapping (scenario overrides stay on the returned catalog)."""
    if isinstance(catalog, Catalog):
        if overrides:
            raise AccelsimError("tune: give overrides to load_catalog, or pass catalog folders")
        cat = catalog
        dirs = [str(r) for r in cat.roots[1:]]
    else:
        dirs = [str(d) for d in (catalog or [])]
        cat = load_catalog(dirs or None, overrides or None)
    return cat, dirs, catalog_inputs(cat)[1]


def _base_mapping(scenario: Any, cat: Catalog, device: str | None) -> dict[str, Any]:
    if isinstance(scenario, Scenario):
        raw = scenario.model_dump(mode="json")
    else:
        spec = sweep_from_mapping({"name": "tune", "base": _as_base(scenario)})
        raw = resolve_base(spec, cat)
    if cat.scenario_overrides:
        raw = apply_scenario_overrides(raw, cat.scenario_overrides, cat)
    for key in ("resolved", "kv_tokens", "kv_tokens_per_seq", "disaggregation", "plan"):
        raw.pop(key, None)
    if device:
        raw["device"] = device
        raw["devices"] = [device]
    return raw


def _as_base(scenario: Any) -> Any:
    if isinstance(scenario, Path):
        return str(scenario)
    if scenario is None:
        return "default"
    return scenario


def _row_metrics(row: dict[str, Any] | None, keys: Sequence[str]) -> dict[str, Any]:
    if row is None:
        return {}
    return {k: row.get(k) for k in keys}


def _pool_plans(c: Candidate) -> list[ParallelPlan]:
    return [p for p in (c.plan, c.prefill, c.decode) if p is not None]


def tune(
    scenario: Any = "default",
    *,
    device: str | None = None,
    cards: int,
    slo: str | dict[str, Any] | None = None,
    objective: str = "goodput",
    top_k: int = 4,
    catalog: Any = None,
    overrides: Any = None,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    seed: int = 0,
    batched_tokens: Sequence[int] = DEFAULT_BATCHED_TOKENS,
    max_seqs: Sequence[int] = DEFAULT_MAX_SEQS,
    disaggregation: bool = True,
    cost: dict[str, Any] | None = None,
    out_dir: str | Path | None = None,
    progress: Callable[[str], Any] | None = None,
    launch: str | None = None,
) -> TuneResult:
    """Search plans for ``cards`` cards of ``device`` serving ``scenario``'s traffic (see the
    module docstring). ``catalog`` is a ``Catalog`` or a list of catalog folders; ``overrides``
    are ``--set`` texts (``KIND.NAME.FIELD=VALUE``, ``scenario.FIELD=VALUE``); ``progress``
    maps a stage name (``analytic``, ``simulate``) to a ``run_sweep`` progress object; with
    ``out_dir`` the two stages' results persist there and a rerun reuses them."""
    if objective not in OBJECTIVES:
        raise AccelsimError(f"--objective {objective!r}: use one of {', '.join(OBJECTIVES)}")
    if top_k < 1:
        raise AccelsimError("--top-k must be at least 1")
    t0 = time.perf_counter()
    cat, dirs, sets = _catalog_inputs(catalog, overrides)
    raw = _base_mapping(scenario, cat, device)
    try:
        sc = Scenario.model_validate({**raw, "cards": cards})
    except ValidationError as exc:
        where = f"scenario {raw.get('name', '')}".strip()
        raise AccelsimError(format_validation_error(where, exc)) from None
    cat.device(sc.device)
    cat.model(sc.model)
    targets = parse_slo(slo, sc)
    # the simulator's goodput counts requests within these per-request bounds
    sc_slo = dict(raw.get("slo") or {})
    ttft = targets.get("ttft_p99", targets.get("ttft_p50"))
    tpot = targets.get("tpot_p99", targets.get("tpot_mean"))
    if ttft is not None:
        sc_slo["ttft"] = ttft
    if tpot is not None:
        sc_slo["tpot"] = tpot
    raw["slo"] = sc_slo
    ok, pruned = enumerate_candidates(
        sc,
        cat,
        cards,
        batched_tokens=batched_tokens,
        max_seqs=max_seqs,
        disaggregation=disaggregation,
    )
    if launch is not None:
        moe = cat.model(sc.model).moe is not None
        ok, refused = partition_launchable(ok, _pool_plans, launch, moe)
        pruned += refused
    evidence: dict[int, dict[str, Any]] = {}
    for c, reason in pruned:
        evidence[c.index] = {**c.describe(), "stage": "pruned", "reason": reason}
    by_index = {c.index: c for c in ok}

    def spec_for(name: str, cands: list[Candidate], evaluator: str) -> Any:
        return sweep_from_mapping(
            {
                "name": name,
                "base": raw,
                "seed": seed,
                "evaluator": evaluator,
                "set": sets,
                "axes": {_AXIS: [c.axis_value() for c in cands]},
                "constraints": {"fit": True},
                "slo": targets,
                "cost": dict(cost or {}),
                "pareto": {"cost": "usd_per_mtok", "latency": list(targets) or ["tpot_p99"]},
            }
        )

    def stage(name: str, cands: list[Candidate], evaluator: str, root: Path) -> list[Any]:
        run = run_sweep(
            spec_for(f"tune-{name}", cands, evaluator),
            root / name,
            executor=executor,
            workers=workers,
            address=address,
            resume=True,
            catalog_dirs=dirs or None,
            progress=progress(name) if progress is not None else None,
            chart=False,
        )
        rows = sorted(run.rows, key=lambda r: r["index"])
        if len(rows) != len(cands):  # pragma: no cover - one point per candidate by design
            raise AccelsimError(f"tune: {name} stage returned {len(rows)} of {len(cands)} points")
        return rows

    with contextlib.ExitStack() as stack:
        if out_dir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="accelsim-tune-")))
        else:
            root = Path(out_dir)
        if executor == "ray" and ok:
            # one Ray instance for both stages (each run_sweep joins it rather than starting
            # its own); stopped on leaving when tune started it
            stack.enter_context(make_executor("ray", workers, address))
        scored: list[dict[str, Any]] = []
        if ok:
            for c, r in zip(ok, stage("analytic", ok, "analytic", root), strict=True):
                row = {**c.describe(), "stage": "analytic", "reason": None}
                if r["status"] != "ok":
                    row["reason"] = f"analytic {r['status']}: {r['message']}"
                    evidence[c.index] = row
                    continue
                meets = _meets(r, targets)
                row.update({f"analytic_{k}": v for k, v in _row_metrics(r, _SHOWN).items()})
                row["analytic_meets_slo"] = meets
                row["analytic_slo_margin"] = slo_margin(r, targets)
                row["analytic_objective"] = _objective(r, objective, meets, False)
                evidence[c.index] = row
                scored.append(
                    {
                        "candidate": c.index,
                        "meets_slo": meets,
                        "objective": row["analytic_objective"],
                        "raw": _objective(r, objective, True, False),
                        "slo_margin": row["analytic_slo_margin"],
                        "usd_per_mtok": r.get("usd_per_mtok"),
                    }
                )
        scored.sort(key=_rank_key)
        keep = [by_index[s["candidate"]] for s in scored[:top_k]]
        for s in scored[top_k:]:
            evidence[s["candidate"]]["reason"] = f"not in the analytic top {top_k}"
        final: list[dict[str, Any]] = []
        if keep:
            for c, r in zip(keep, stage("simulate", keep, "simulate", root), strict=True):
                row = evidence[c.index]
                row["stage"] = "simulated"
                if r["status"] != "ok":
                    row["reason"] = f"simulate {r['status']}: {r['message']}"
                    continue
                meets = _meets(r, targets)
                row.update({f"sim_{k}": v for k, v in _row_metrics(r, _SHOWN + _SIM_ONLY).items()})
                row["sim_meets_slo"] = meets
                row["sim_slo_margin"] = slo_margin(r, targets)
                row["sim_objective"] = _objective(r, objective, meets, True)
                final.append(
                    {
                        "candidate": c.index,
                        "meets_slo": meets,
                        "objective": row["sim_objective"],
                        "raw": row["sim_objective"],
                        "slo_margin": row["sim_slo_margin"],
                        "usd_per_mtok": r.get("usd_per_mtok"),
                    }
                )
    final.sort(key=_rank_key)
    for rank, f in enumerate(final, 1):
        evidence[f["candidate"]]["rank"] = rank
    rows = sorted(
        evidence.values(),
        key=lambda r: (
            {"simulated": 0, "analytic": 1, "pruned": 2}[r["stage"]],
            r.get("rank") or math.inf,
            r["candidate"],
        ),
    )
    best = evidence[final[0]["candidate"]] if final else None
    return TuneResult(
        scenario=str(raw.get("name", "scenario")),
        model=sc.model,
        device=sc.device,
        cards=cards,
        objective=objective,
        slo=targets,
        top_k=top_k,
        seed=seed,
        evidence=rows,
        best=best,
        meets_slo=bool(final and final[0]["meets_slo"]),
        elapsed_s=time.perf_counter() - t0,
        executor=executor,
        base=raw,
        best_candidate=by_index[final[0]["candidate"]] if final else None,
    )
