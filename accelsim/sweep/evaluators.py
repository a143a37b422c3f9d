"""Point evaluators: scenario mapping -> flat metrics (see ``accelsim.sweep.worker``).

Both model evaluators deploy the point's scenario once (``accelsim.run.resolve.deploy``) and read
its pools — plan, KV capacity, timing model — from the ``Deployment``; a plan axis that opened
the plan into a mapping (``plan.tp``) is read by the plan grammar there.

- ``simulate`` — the discrete-event simulator (``accelsim.run.simulate.run_scenario``) and the
  cost model; the answer of record.
- ``analytic`` — a closed-form steady-state estimate from the timing model (``accelsim.model.perf``)
  and the cost model (``accelsim.run.pricing``), milliseconds per point. Used to prune (``accelsim
  tune``). Its assumptions:

  * the scenario is deployed as the simulator would (plan, KV capacity); the rate and mean
    prompt / output lengths come from the generated request table; requests split evenly over
    the replicas;
  * prefill runs as its own iterations (chunks of ``max_batched_tokens``), occupying the replica
    a fraction ``rho_p = rate_r * T_prefill`` of the time; decode runs in the rest;
  * the decode batch ``B`` solves Little's law ``B = rate_r * output_len * TPOT`` with
    ``TPOT = t_decode(B) / (1 - rho_p)``, capped by the KV cache and ``max_seqs``;
    beyond the cap the replica is *saturated*: it serves its capacity
    ``1 / (T_prefill + output_len * t_decode(B_max) / (B_max * tokens_per_step))`` (prefill
    plus full-batch decode fill all of its time; equal to the offered rate at the boundary, so
    throughput never falls as the load grows) and TTFT is unbounded (reported as missing, so
    the point is never on a latency front);
  * TTFT = ``T_prefill`` + one decode iteration + an M/D/1 wait ``rho_p T / (2 (1 - rho_p))``
    behind other prompts (continuous batching admits a prompt at the next iteration, so decode
    work does not queue it); p99 multiplies the wait by ``ln 100`` (an exponential tail), p50
    by ``ln 2``;
  * p99 TPOT is a decode iteration that also carries one prefill chunk when prefill is more
    than 1% of the time, else the mean TPOT;
  * P/D disaggregation (``disaggregation`` pools): the prefill pool is an M/D/1 queue of whole
    prompts (TTFT ends at the prefill, as in the engine), the decode pool runs the Little's-law
    batch without prefill interference, and the deployment serves the smaller capacity;
  * cost (both evaluators) is ``estimate_tco`` of the scenario's ``cards`` (packages: a 910C
    card of two dies is one card) at the cards' activity (the simulator's ``activity``, the
    share of time compute or HBM work at peak; the analytic evaluator, which counts no FLOPs or
    bytes, its busy fraction), with the sweep's ``cost`` options; ``usd_per_mtok`` is all cost
    per million *output* tokens (``usd_per_mtok_blended`` counts input too). A device the
    price book does not price (card or its default server) keeps its performance figures,
    with the cost ``None`` and a ``cost_note`` saying why.

- ``toy`` — a cheap deterministic function of the scenario fields (``cards``, ``traffic.rate``,
  ``device``) and the seed, for tests and benchmarks of the sweep machinery. Scenario fields
  ``sleep`` (seconds to wait), ``fail`` (raise) and ``fits: false`` (skip) drive its behaviour.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.model import PerfModel
from accelsim.model.plan import ParallelPlan
from accelsim.run.pricing import estimate_tco, unpriced
from accelsim.run.resolve import Deployment, file_resolver
from accelsim.run.scenario import Scenario, read_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.traffic import generate
from accelsim.sweep.context import EvalContext, PointSkipped
from accelsim.sweep.timing_memo import shared_deployment

__all__ = ["analytic", "deployment", "poisson_ppf", "simulate", "toy"]


# ---- toy ----------------------------------------------------------------------------------


def toy(ctx: EvalContext) -> dict[str, Any]:
    s = ctx.scenario
    if s.get("sleep"):
        time.sleep(float(s["sleep"]))
    if s.get("fail"):
        raise RuntimeError(f"toy evaluator asked to fail ({s['fail']})")
    if ctx.require_fit and s.get("fits") is False:
        raise PointSkipped("plan does not fit (toy)")
    device = str(s.get("device", "dev"))
    cards = float(s.get("cards", 8))
    rate = float((s.get("traffic") or {}).get("rate", 10.0))
    salt = int(hashlib.sha256(device.encode()).hexdigest()[:6], 16) / 0xFFFFFF
    rng = np.random.default_rng(ctx.seed)
    noise = float(rng.lognormal(0.0, 0.05))
    capacity = cards * (40.0 + 20.0 * salt)
    load = min(rate / capacity, 0.99)
    tpot = (0.02 + 0.03 * salt) / (1.0 - load) * noise
    ttft = (0.2 + 0.5 * salt) / (1.0 - load) * float(rng.lognormal(0.0, 0.05))
    throughput = min(rate, capacity) * 500.0
    cost = cards * (1.5 + salt) * 3600.0 / max(throughput * 3600.0 / 1e6, 1e-9) / 3600.0
    return {
        "device": device,
        "cards": int(cards),
        "throughput_tok_s": throughput,
        "tpot_p99": tpot,
        "ttft_p99": ttft,
        "usd_per_mtok": cost,
        "draw": float(rng.random()),
    }


# ---- shared: the deployment and its cost ---------------------------------------------------


def deployment(ctx: EvalContext) -> Deployment:
    """The point's ``Deployment`` (its scenario resolved against the catalog, its timing models
    shared with the points this process ran before: ``accelsim.sweep.timing_memo``); a plan
    that does not fit is ``PointSkipped`` when the sweep asks to skip those
    (``constraints.fit``)."""
    data = dict(ctx.scenario)
    data["seed"] = ctx.seed
    try:
        return shared_deployment(read_scenario(data, ctx.catalog, overrides={}), ctx.catalog)
    except AccelsimError as exc:
        if ctx.require_fit and "does not fit" in str(exc):
            raise PointSkipped(str(exc)) from None
        raise


def _cost(
    ctx: EvalContext,
    sc: Scenario,
    *,
    utilization: float,
    output_tok_s: float,
    input_tok_s: float,
    req_s: float,
) -> dict[str, Any]:
    none = {"usd_per_mtok": None, "usd_per_mtok_blended": None, "usd_per_card_hour": None}
    if not output_tok_s > 0:
        return none
    opts = ctx.cost or {}
    prices = opts.get("prices", "international-2025")
    why = unpriced(ctx.catalog, sc.device, prices)
    if why is not None:  # the performance figures still stand; the row says why cost is missing
        return {**none, "cost_note": why}
    tco = estimate_tco(
        ctx.catalog,
        sc.device,
        int(sc.cards or 0),  # cards (packages), as the price book prices them
        utilization=max(min(utilization, 1.0), 0.0),
        prices=prices,
        facility=opts.get("facility", "us-2025"),
        years=opts.get("years"),
        throughput=output_tok_s,
        input_tokens_per_s=input_tok_s,
        requests_per_s=req_s,
    )
    return {
        "usd_per_mtok": tco.usd_per_mtok_output,
        "usd_per_mtok_blended": tco.usd_per_mtok_blended,
        "usd_per_card_hour": tco.per_card_hour_usd,
    }


def _recorded_plan(sc: Scenario) -> str | None:
    """The scenario's plan as its resolved file records it."""
    return sc.plan.text() if isinstance(sc.plan, ParallelPlan) else sc.plan


# ---- analytic ----------------------------------------------------------------------------

_LN100 = math.log(100.0)
_LN2 = math.log(2.0)


def _traffic_means(sc: Scenario, seed: int, catalog: Catalog) -> tuple[float, float, float]:
    """Arrival rate (requests/s) and mean prompt / output lengths of the scenario's traffic
    (from its request table, so traces and every length model are handled alike)."""
    spec = sc.traffic_spec
    reqs = generate(spec, np.random.default_rng(seed), file_resolver(catalog))
    if not len(reqs):
        raise AccelsimError("traffic generates no requests")
    if spec.rate is not None:
        rate = float(spec.rate)
    else:
        t = reqs.arrived_at[np.isfinite(reqs.arrived_at)]
        span = float(t.max() - t.min()) if len(t) > 1 else 0.0
        rate = (len(t) - 1) / span if span > 0 else 1.0
    return rate, float(reqs.prompt_tokens.mean()), float(reqs.output_tokens.mean())


def _prefill_time(pm: PerfModel, n_in: int, chunk: int) -> float:
    t, done = 0.0, 0
    while done < n_in:
        c = min(chunk, n_in - done)
        t += pm.iteration_time(BatchStats.prefill_chunk(c, done))
        done += c
    return t


def _decode_batch(
    pm: PerfModel, lam: float, out: float, mean_ctx: float, rho_p: float, bmax: int
) -> tuple[float, bool]:
    """Little's-law decode batch ``B = lam * out * t_dec(B) / (1 - rho_p) / tps`` (a fixed
    point, monotone from below) and whether it exceeds the cap ``bmax`` (saturated)."""
    tps = pm.tokens_per_decode_step
    if rho_p >= 0.98:
        return float(bmax), True
    b = 1.0
    for _ in range(60):
        t = pm.iteration_time(BatchStats.decode(max(1, math.ceil(b)), mean_ctx))
        nb = lam * out * t / (1.0 - rho_p) / tps
        if nb > bmax:
            return float(bmax), True
        if abs(nb - b) < 1e-3 * max(b, 1.0):
            return max(nb, 1.0), False
        b = max(nb, 1.0)
    return b, False


def _bmax(kv_tokens: int | None, dp: int, mean_ctx: float, max_seqs: int) -> int:
    kv_per_group = max(int(kv_tokens or 0) // dp, 1)
    return max(1, min(int(kv_per_group // max(mean_ctx, 1.0)), max_seqs) * dp)


def _tpot_p99(t_dec: float, extra: float, chunk_rate: float, steps: float, out: float) -> float:
    """P99 of a request's mean TPOT under chunked prefill: its ``steps`` decode iterations of
    ``t_dec`` each, plus ``extra`` seconds for every iteration that also carries a prefill
    chunk of another request. Chunks arrive as a Poisson stream of ``chunk_rate`` per second
    (arrivals per replica x chunks per prompt), so the number K that lands in the request's
    decode lifetime ``D = steps * t_dec + E[K] * extra`` is Poisson with mean
    ``E[K] = chunk_rate * steps * t_dec / (1 - chunk_rate * extra)``; the P99 takes K's 99th
    percentile. At light load K is 0-2 and the figure tends to the bare decode step (a mixed
    iteration on every token would overstate it several-fold); it grows with load."""
    rho_x = chunk_rate * extra
    if rho_x >= 1.0:
        return math.inf
    mean_k = chunk_rate * steps * t_dec / (1.0 - rho_x)
    k99 = poisson_ppf(0.99, mean_k) if mean_k > 0 else 0.0
    return (steps * t_dec + k99 * extra) / out


def poisson_ppf(q: float, mu: float) -> float:
    """``scipy.stats.poisson.ppf(q, mu)`` for ``0 < q < 1`` and ``mu > 0``, by scipy's own
    formula (``scipy.stats._discrete_distns.poisson_gen._ppf``: the ceiling of the inverse of
    the Poisson CDF in ``k``, ``pdtrik``, one lower when the CDF there already reaches ``q``)
    on ``scipy.special``, which loads in about a third of the time ``scipy.stats`` takes
    (0.66 s against 1.94 s, ``python -X importtime``) — the first analytic point of a process
    paid the difference (``size``'s analytic start). Equal to scipy's figure (a test)."""
    from scipy.special import pdtr, pdtrik

    k = math.ceil(float(pdtrik(q, mu)))
    below = max(k - 1, 0)
    return float(below if pdtr(below, mu) >= q else k)


def analytic(ctx: EvalContext) -> dict[str, Any]:
    cat = ctx.catalog
    dep = deployment(ctx)
    if dep.disaggregated:
        return _analytic_disagg(ctx, dep)
    sc, pool = dep.scenario, dep.main
    plan = pool.plan
    rate, inp, out = _traffic_means(sc, ctx.seed, cat)
    pm = pool.perf
    sched = sc.scheduler
    mean_ctx = inp + out / 2.0
    bmax = _bmax(pool.kv_tokens, plan.dp, mean_ctx, sched.max_seqs)
    lam = rate / plan.replicas  # requests/s per replica
    chunk = max(1, min(round(inp), sched.max_batched_tokens))
    t_prefill = _prefill_time(pm, max(round(inp), 1), chunk)
    tps = pm.tokens_per_decode_step
    rho_p = lam * t_prefill

    def t_dec(b: float) -> float:
        return pm.iteration_time(BatchStats.decode(max(1, math.ceil(b)), mean_ctx))

    b, saturated = _decode_batch(pm, lam, out, mean_ctx, rho_p, bmax)
    if saturated:
        # the replica serves its capacity: prefill of each request plus its share of full-batch
        # decode iterations fill all of the time (continuous at the Little's-law boundary)
        req_s_rep = 1.0 / (t_prefill + out * t_dec(b) / (b * tps))
        rho_p = req_s_rep * t_prefill
        tpot_mean = t_dec(b) / max(1.0 - rho_p, 0.02) / tps
    else:
        tpot_mean = t_dec(b) / (1.0 - rho_p) / tps
        req_s_rep = lam
    # busy fraction: prefill share plus the decode iterations needed for the tokens served
    decode_busy = min(req_s_rep * out / tps * t_dec(b) / max(b, 1.0), 1.0 - min(rho_p, 1.0))
    busy = min(req_s_rep * t_prefill + decode_busy, 1.0)
    if saturated:
        ttft_p50 = ttft_p99 = None
    else:
        wait = rho_p * t_prefill / (2.0 * max(1.0 - rho_p, 1e-3))
        base = t_prefill + t_dec(b)
        ttft_p50, ttft_p99 = base + wait * _LN2, base + wait * _LN100
    mixed = BatchStats.decode(max(1, math.ceil(b)), mean_ctx) + BatchStats.prefill_chunk(chunk)
    chunks = math.ceil(max(round(inp), 1) / chunk)
    extra = max(pm.iteration_time(mixed) - t_dec(b), 0.0)
    tpot_p99 = max(_tpot_p99(t_dec(b), extra, req_s_rep * chunks, out / tps, out), tpot_mean)
    req_s = req_s_rep * plan.replicas
    latency = {"ttft_p50": ttft_p50, "ttft_p99": ttft_p99, "tpot_mean": tpot_mean}
    latency["tpot_p99"] = tpot_p99
    plan_text = plan.text()
    return _analytic_record(ctx, sc, plan_text, saturated, b, bmax, req_s, inp, out, busy, latency)


def _analytic_disagg(ctx: EvalContext, dep: Deployment) -> dict[str, Any]:
    """P/D disaggregation: the prefill pool is an M/D/1 queue of whole prompts per replica
    (TTFT ends when the prefill completes, as in the engine; the KV transfer then delays only
    the first decode step, which is within TPOT's first interval and ignored here); the decode
    pool runs the Little's-law batch with no prefill interference. The deployment serves the
    smaller of the two pools' capacities; TTFT is missing when the prefill pool saturates."""
    sc, prefill, decode = dep.scenario, dep.main, dep.decode
    assert decode is not None
    pp_plan, dp_plan = prefill.plan, decode.plan
    rate, inp, out = _traffic_means(sc, ctx.seed, ctx.catalog)
    pm_p, pm_d = prefill.perf, decode.perf
    sched = sc.scheduler
    mean_ctx = inp + out / 2.0
    chunk = max(1, min(round(inp), sched.max_batched_tokens))
    t_prefill = _prefill_time(pm_p, max(round(inp), 1), chunk)
    prefill_cap = 0.98 * pp_plan.replicas / t_prefill  # requests/s
    lam_p = rate / pp_plan.replicas
    rho_p = lam_p * t_prefill
    bmax = _bmax(decode.kv_tokens, dp_plan.dp, mean_ctx, sched.max_seqs)
    tps = pm_d.tokens_per_decode_step
    lam_d = min(rate, prefill_cap) / dp_plan.replicas
    b, dec_saturated = _decode_batch(pm_d, lam_d, out, mean_ctx, 0.0, bmax)
    t_dec = pm_d.iteration_time(BatchStats.decode(max(1, math.ceil(b)), mean_ctx))
    tpot = t_dec / tps
    req_s = min(rate, prefill_cap, b / tpot / out * dp_plan.replicas)
    saturated = rho_p >= 0.98 or dec_saturated
    if rho_p >= 0.98:
        ttft_p50 = ttft_p99 = None
    else:
        wait = rho_p * t_prefill / (2.0 * (1.0 - rho_p))
        ttft_p50, ttft_p99 = t_prefill + wait * _LN2, t_prefill + wait * _LN100
    cards_p, cards_d = pp_plan.ranks, dp_plan.ranks
    busy_p = min(req_s / pp_plan.replicas * t_prefill, 1.0)
    busy_d = min(req_s / dp_plan.replicas * out / tps * t_dec / max(b, 1.0), 1.0)
    busy = (busy_p * cards_p + busy_d * cards_d) / (cards_p + cards_d)
    latency = {"ttft_p50": ttft_p50, "ttft_p99": ttft_p99, "tpot_mean": tpot, "tpot_p99": tpot}
    plan_text = f"prefill {pp_plan.text()} + decode {dp_plan.text()}"
    return _analytic_record(ctx, sc, plan_text, saturated, b, bmax, req_s, inp, out, busy, latency)


def _analytic_record(
    ctx: EvalContext,
    sc: Scenario,
    plan_text: str,
    saturated: bool,
    batch: float,
    bmax: int,
    req_s: float,
    inp: float,
    out: float,
    busy: float,
    latency: dict[str, float | None],
) -> dict[str, Any]:
    """The analytic evaluator's flat metrics and their cost, for ``req_s`` requests/s served."""
    out_tok_s = req_s * out
    metrics = {
        "model": sc.model,
        "device": sc.device,
        "cards": sc.cards,
        "plan": plan_text,
        "dtype": sc.dtype,
        "saturated": saturated,
        "decode_batch": batch,
        "max_batch": bmax,
        "output_tokens_per_s": out_tok_s,
        "output_tokens_per_s_per_card": out_tok_s / sc.cards,
        "requests_per_s": req_s,
        "busy_fraction": busy,
        **latency,
    }
    metrics.update(
        _cost(
            ctx, sc, utilization=busy, output_tok_s=out_tok_s, input_tok_s=req_s * inp, req_s=req_s
        )
    )
    return metrics


# ---- simulate ----------------------------------------------------------------------------


def simulate(ctx: EvalContext) -> dict[str, Any]:
    """The simulator's summary (``accelsim.run.simulate.run_scenario``), flattened, plus cost."""
    dep = deployment(ctx)
    sc = dep.scenario
    result = run_scenario(dep, ctx.catalog)
    flat = _normalise_summary(result.summary.as_dict())
    plan = _recorded_plan(sc)
    flat.update(device=sc.device, cards=sc.cards, plan=plan, model=sc.model, dtype=sc.dtype)
    out_tok = flat.get("output_tokens_per_s") or 0.0
    flat.update(
        _cost(
            ctx,
            sc,
            utilization=float(flat.get("activity") or 0.0),
            output_tok_s=float(out_tok),
            input_tok_s=float(flat.get("input_tokens_per_s") or 0.0),
            req_s=float(flat.get("requests_per_s") or 0.0),
        )
    )
    return flat


_ALIASES = {
    "ttft_s.": "ttft_",
    "tpot_s.": "tpot_",
    "e2e_s.": "e2e_",
    "queue_s.": "queue_",
    "itl_s.": "itl_",
    "throughput.": "",
}


def _normalise_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Flatten the nested summary: ``ttft_s.p99`` -> ``ttft_p99``, ``throughput.x`` -> ``x``,
    other groups joined with ``_`` (``goodput.share`` -> ``goodput_share``)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            key = prefix
            for old, new in _ALIASES.items():
                if key.startswith(old):
                    key = new + key[len(old) :]
                    break
            flat[key.replace(".", "_")] = node

    walk("", summary)
    # wall-clock figures differ run to run; the row's elapsed_s already records the time
    return {k: v for k, v in flat.items() if not k.startswith("wall")}
