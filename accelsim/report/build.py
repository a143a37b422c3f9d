"""Build a comparison report's content (``accelsim.report.model.Report``) from a scenario.

What it runs, in order:

1. ``accelsim.questions.compare.compare`` — fit, smallest deployment, simulated figures, sizing,
   cost and Monte Carlo uncertainty per device (the executive summary), on the scenario deployed
   once (``accelsim.run.resolve.deploy``);
2. a load sweep per device (``accelsim.questions.claims.load_sweep``): the smallest deployment (one
   replica) at ``RATE_FACTORS`` x the scenario's arrival rate, ``SWEEP_REQUESTS`` requests each
   (fewer when the scenario has fewer) — throughput against latency;
3. ``accelsim.validate.predict.run_validation`` filtered to the devices involved, so readers see
   how far the timing model is from measurements on those cards;
4. the scenario's claims, if any (``accelsim.questions.claims.check_claims``);
5. the assumptions: every catalog number the report rests on (cards, their servers and fabrics,
   the model, the price book's entries for these devices and its general fields, the facility),
   with its confidence, sources and note; what-if overrides are marked.

Nothing here reads the clock: the facts name the accelsim version and the price book's and
facility's ``as_of``, so the same scenario and seed give the same report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.model.cost import BREAKDOWN, COST_FIGURES, OUTPUTS
from accelsim.model.plan import MemoryFit, fit
from accelsim.questions.claims import ClaimCheck, check_claims, perf_tolerance
from accelsim.questions.claims_readings import (
    RATE_FACTORS,
    SWEEP_REQUESTS,
    LoadSweep,
    load_sweep,
    precision_fits,
    sweepable,
)
from accelsim.questions.compare import ComparisonResult, compare
from accelsim.report.charts import (
    cost_chart,
    memory_chart,
    ratio_chart,
    sweep_chart,
    tco_chart,
    tornado_chart,
)
from accelsim.report.deployment import deployment_section
from accelsim.report.model import Chart, Report, Section
from accelsim.report.rows import assumptions, fmt, rows_table, table, used_entries
from accelsim.run.resolve import Deployment, deploy
from accelsim.run.scenario import Scenario
from accelsim.sweep.replicate import DEFAULT_SEEDS
from accelsim.validate.predict import ValidationReport, run_validation
from accelsim.version import __version__

__all__ = ["build_report"]


# ---- sections ---------------------------------------------------------------------------------
def _summary(result: ComparisonResult, catalog: Catalog) -> list[Section]:
    """The verdict (its sentence, the cost ratio's distribution, what flips it), the sized
    cluster's rows, and the smallest deployment as a section of its own."""
    devices = result.devices
    touched = set(getattr(result, "overridden_devices", None) or ())
    touched |= {o.name for o in catalog.overrides if o.kind == "device"}
    heads = [f"{d} (WHAT-IF)" if d in touched else d for d in devices]
    paragraphs = [
        result.answer,
        "Every row is for the cluster sized for the scenario's load under its SLOs: its cards, "
        "plan, simulated latency percentiles and goodput at that load, and its cost (the joint "
        "Monte Carlo's P10/P50/P90). Bold: the better value (winner, with the ratio of best to "
        "next).",
    ]
    paragraphs += [f"{label}: {definition}." for label, _unit, definition in COST_FIGURES.values()]
    for o in result.outcomes:
        paragraphs += [f"{o.device}: {n}" for n in o.notes]
    charts_: tuple[Chart, ...] = ()
    tables = [rows_table(result, result.rows, heads)]
    v = result.verdict
    if v is not None:
        p10, p50, p90 = v.ratio_quantiles
        of = (v.runner_up, v.winner)
        charts_ = (
            Chart(
                "cost-ratio",
                f"Cost ratio {of[0]} / {of[1]} over {v.n:,} joint draws",
                ratio_chart(v.ratio.tolist(), of, (p10, p50, p90)),
                f"{v.winner} is cheaper in {v.p_winner:.0%} of the draws (right of 1).",
            ),
        )
        tables.append(
            table(
                ["cost ratio", "base", "P10", "P50", "P90", f"P({v.winner} cheaper)"],
                [
                    [
                        f"{of[0]} / {of[1]}",
                        f"{v.base_ratio:.2f}",
                        f"{p10:.2f}",
                        f"{p50:.2f}",
                        f"{p90:.2f}",
                        f"{v.p_winner:.2f}",
                    ]
                ],
                "lrrrrr",
            )
        )
        tables.append(
            table(
                [
                    "what flips it (one input at a time)",
                    "what-if key",
                    "base",
                    "ratio low..high",
                    "break-even",
                ],
                [
                    [
                        f.label,
                        f"`{f.key}`",
                        fmt(f.base, f.unit),
                        f"{f.ratio_at_low:.2f}..{f.ratio_at_high:.2f}",
                        "none in range"
                        if f.break_even is None
                        else f"{v.runner_up} wins {f.flips_when} {fmt(f.break_even, f.unit)}",
                    ]
                    for f in v.flips
                ],
                "llrrl",
            )
        )
    smallest = Section(
        "smallest",
        "Smallest deployment",
        (
            "One replica of each device's sized shape on whole nodes, at the scenario's full "
            "load: what the smallest footprint does, not the cluster the costs are for.",
        ),
        tables=(rows_table(result, result.smallest_rows, heads),),
    )
    summary = Section(
        "summary", "Executive summary", tuple(paragraphs), charts_, tables=tuple(tables)
    )
    return [summary, smallest]


def _claims_section(checks: list[ClaimCheck], sc: Scenario, catalog: Catalog) -> Section:
    rows = [
        [
            c.claim.id,
            " / ".join(x for x in (c.claim.row, c.claim.column) if x) or "—",
            c.claim.says or c.claim.kind,
            _claim_value(c),
            c.reading or "—",
            c.verdict.upper() if c.verdict != "not checkable" else "NOT CHECKABLE",
            c.predicted_text,
            c.tolerance,
            c.reason,
        ]
        for c in checks
    ]
    verdicts = {v: sum(1 for c in checks if c.verdict == v) for v in ("consistent", "inconsistent")}
    n_nc = len(checks) - sum(verdicts.values())
    n_claims = len({c.claim.id for c in checks})
    intro = (
        f"{n_claims} claim(s), {len(checks)} reading(s): {verdicts['consistent']} consistent, "
        f"{verdicts['inconsistent']} inconsistent, {n_nc} not checkable with accelsim. "
        "A claim about a model gives one verdict per reading of the model it names; a peak "
        "one per SKU; a cluster cost one per accounting. Tolerance policy "
        "(accelsim.questions.claims): peak specs within 10% of the catalog; performance claims "
        "are read as 'achievable' (the article sets no latency target): throughput no more "
        "than the saturation throughput, TTFT no less than the lowest-load p50, widened by the "
        "P90 of the card family's cross-validated error (at least 10%); $ per M tokens inside "
        "the Monte Carlo P10-P90 of output-only or blended cost, at saturation or under the "
        "SLOs; a cluster cost within 25% of capex, TCO per year, TCO over the life or a "
        "year's rental; a cost advantage whose claimed ratio band overlaps the joint Monte "
        "Carlo's P10-P90. A performance claim on a configuration where the model does not fit "
        "at any supported precision is inconsistent: that configuration cannot exist."
    )
    tables = [
        table(
            [
                "claim",
                "where (row / column)",
                "says",
                "claimed",
                "reading",
                "verdict",
                "accelsim",
                "tolerance",
                "reason",
            ],
            rows,
            "lllrlllll",
        )
    ]
    fit_rows = []
    seen = set()
    for c in checks:
        if c.claim.cards is None or c.claim.kind not in ("throughput", "ttft"):
            continue
        key = (c.reading or sc.model, c.claim.device, c.claim.cards)
        if key in seen:
            continue
        seen.add(key)
        for name, one, least in precision_fits(catalog, *key, sc.context):
            fit_rows.append(
                [
                    key[0],
                    c.claim.device,
                    str(c.claim.cards),
                    name,
                    fmt(one.weights / 2**30, "GiB"),
                    fmt(one.hbm_capacity / 2**30, "GiB"),
                    "yes" if one.fits else "no",
                    fmt(one.shortfall / 2**30, "GiB") if not one.fits else "—",
                    fmt(least, "cards") if least is not None else "over 8,192",
                ]
            )
    if fit_rows:
        multi_die = any(catalog.device(d).dies > 1 for _, d, _ in seen)
        per_die = "; per card: per die of a multi-die card, its plan ranks" if multi_die else ""
        tables.append(
            table(
                [
                    "model",
                    "device",
                    "claimed cards",
                    "precision",
                    "weights per card",
                    "HBM per card",
                    "fits",
                    "short per card",
                    "smallest deployment",
                ],
                fit_rows,
                "llrlrrlrr",
                caption="Does each reading fit on the claimed cards, at every precision the card "
                f"computes in? (best plan per card count, context {sc.context:,} tokens{per_die})",
            )
        )
    arch = catalog.model(sc.model)
    paragraphs = [intro]
    if arch.hypothetical:
        paragraphs.append(
            f"{sc.model} is a HYPOTHETICAL model (no released config): {arch.description}"
        )
    return Section("claims", "Claims checked", tuple(paragraphs), tables=tuple(tables))


def _claim_value(c: ClaimCheck) -> str:
    v, k = c.claim.value, c.claim.kind
    if k == "throughput":
        return f"{v:,.0f} tok/s"
    if k == "ttft":
        return fmt(v, "s")
    if k == "peak_flops":
        return f"{v / 1e12:,.0f} TFLOPS {c.claim.dtype}"
    if k == "cluster_cost":
        return f"${v / 1e6:,.2f}M ({c.claim.cards:,} cards)"
    if k in ("cost_advantage", "cheaper_than_dense"):
        high = c.claim.high
        return f"{v:.0%}" + (f"–{high:.0%}" if high is not None and high != v else "")
    return f"${v:,.2f}/Mtok"


def _sweep_section(sweeps: dict[str, LoadSweep], sc: Scenario, skipped: list[str]) -> Section:
    paragraphs = [
        f"Each device's smallest deployment (one replica) simulated at "
        f"{', '.join(f'{f:g}' for f in RATE_FACTORS)} x the scenario's arrival rate, "
        f"{min(sc.traffic_spec.requests or SWEEP_REQUESTS, SWEEP_REQUESTS)} requests per rate "
        "(throughput includes the drain after the last arrival, so it sits below the offered "
        "rate at light load). The capacity is the highest throughput whose p99 TTFT and TPOT "
        "meet the SLOs; marked ≥ when even the highest swept rate met them (a lower bound)."
    ]
    paragraphs += skipped
    rows = []
    for d, s in sweeps.items():
        for p in s.points:
            rows.append(
                [
                    d,
                    f"{s.cards} ({s.plan.label()})",
                    fmt(p.rate, "req/s"),
                    fmt(p.output_tokens_per_s, "tok/s"),
                    fmt(p.ttft_p50_s, "s"),
                    fmt(p.ttft_p99_s, "s"),
                    fmt(p.tpot_p50_s, "s"),
                    fmt(p.tpot_p99_s, "s"),
                    "yes" if p.meets_slo else "no",
                ]
            )
    charts_: tuple[Chart, ...] = ()
    if sweeps:
        curves = {
            d: [(p.output_tokens_per_s, p.ttft_p99_s, p.tpot_p50_s) for p in s.points]
            for d, s in sweeps.items()
        }
        charts_ = (
            Chart(
                "sweep",
                "Throughput against latency (load sweep)",
                sweep_chart(curves, (sc.slo.ttft, sc.slo.tpot)),
                "left: p99 TTFT; right: p50 TPOT; dashed: the scenario's SLO",
            ),
        )
        cap_rows = [
            [
                d,
                f"{s.cards} ({s.plan.label()}, {s.dtype})",
                ("" if s.bounded or s.capacity is None else "≥ ") + fmt(s.capacity, "tok/s"),
                fmt(s.best_ttft_p50_s, "s"),
            ]
            for d, s in sweeps.items()
        ]
        tables = (
            table(
                ["device", "deployment", "capacity under SLOs", "best TTFT p50"], cap_rows, "llrr"
            ),
            table(
                [
                    "device",
                    "cards (plan)",
                    "rate",
                    "output tok/s",
                    "TTFT p50",
                    "TTFT p99",
                    "TPOT p50",
                    "TPOT p99",
                    "meets SLOs",
                ],
                rows,
                "llrrrrrrl",
            ),
        )
    else:
        tables = ()
    return Section("sweep", "Throughput against latency", tuple(paragraphs), charts_, tables)


def _cost_section(result: ComparisonResult, prices: str, facility: str) -> list[Section]:
    costed = [o for o in result.outcomes if o.tco is not None and o.uncertainty is not None]
    out = []
    rows = [
        [
            o.device,
            fmt(o.values["cards_needed"], "cards"),
            fmt(o.values["usd_per_mtok_base"], "USD/Mtok"),
            fmt(o.values["usd_per_mtok_p10"], "USD/Mtok"),
            fmt(o.values["usd_per_mtok_p50"], "USD/Mtok"),
            fmt(o.values["usd_per_mtok_p90"], "USD/Mtok"),
        ]
        for o in costed
    ]
    missing = [
        f"{o.device}: not costed ({'; '.join(o.notes)})" for o in result.outcomes if o not in costed
    ]
    n = costed[0].uncertainty.n if costed else 0
    cost_charts: tuple[Chart, ...] = ()
    if costed:
        cost_charts = (
            Chart(
                "cost",
                "$ per million output tokens",
                cost_chart(
                    [
                        (
                            o.device,
                            o.values["usd_per_mtok_p10"],
                            o.values["usd_per_mtok_p50"],
                            o.values["usd_per_mtok_p90"],
                        )
                        for o in costed
                    ]
                ),
                "bar: P50; whiskers: P10–P90",
            ),
        )
    out.append(
        Section(
            "cost",
            "Cost per million tokens",
            (
                f"All cost of the cluster sized for the load (prices {prices}, facility "
                f"{facility}) divided by output tokens; P10/P50/P90 from {n:,} Monte Carlo draws "
                "over the price, power and throughput ranges listed under the sensitivity.",
                *missing,
            ),
            cost_charts,
            (table(["device", "cluster", "base", "P10", "P50", "P90"], rows, "lrrrrr"),)
            if rows
            else (),
        )
    )
    if costed:
        labels = [OUTPUTS[k][0] for k in BREAKDOWN]
        parts = {OUTPUTS[k][0]: [o.tco.breakdown[k] for o in costed] for k in BREAKDOWN}
        tco_rows = [
            [label, *(fmt(o.tco.breakdown[k], "USD/yr") for o in costed)]
            for label, k in zip(labels, BREAKDOWN, strict=True)
        ]
        tco_rows.append(["total per year", *(fmt(o.tco.per_year_usd, "USD/yr") for o in costed)])
        tco_rows.append(["capex", *(fmt(o.tco.capex_usd, "USD") for o in costed)])
        out.append(
            Section(
                "tco",
                "Total cost of ownership",
                ("Yearly cost of each sized cluster: amortized capex plus running costs.",),
                (
                    Chart(
                        "tco",
                        "TCO breakdown per year",
                        tco_chart([o.device for o in costed], parts),
                    ),
                ),
                (
                    table(
                        ["component", *(o.device for o in costed)],
                        tco_rows,
                        "l" + "r" * len(costed),
                    ),
                ),
            )
        )
        sens_charts = []
        sens_tables = []
        for i, o in enumerate(costed):
            rows_s = o.tco.sensitivity()[:8]
            if not rows_s:
                continue
            base = rows_s[0].base_output
            sens_charts.append(
                Chart(
                    f"tornado-{i}",
                    f"Sensitivity: {o.device}",
                    tornado_chart(
                        f"{o.device}: $ per M output tokens (base {base:,.2f})",
                        base,
                        [(r.label, r.low_output, r.high_output) for r in rows_s],
                        "USD per M output tokens",
                    ),
                )
            )
            ranges = o.uncertainty.ranges
            sens_tables.append(
                table(
                    [
                        "input",
                        "low",
                        "high",
                        "$/Mtok at low",
                        "$/Mtok at high",
                        "swing",
                        "range basis",
                    ],
                    [
                        [
                            r.label,
                            f"{r.low_input:,.4g}",
                            f"{r.high_input:,.4g}",
                            f"{r.low_output:,.2f}",
                            f"{r.high_output:,.2f}",
                            f"{r.swing:,.2f}",
                            ranges[r.input].basis if r.input in ranges else "",
                        ]
                        for r in rows_s
                    ],
                    "lrrrrrl",
                    caption=f"{o.device}: the eight inputs with the largest swing",
                )
            )
        out.append(
            Section(
                "sensitivity",
                "Sensitivity (tornado)",
                (
                    "Each input moved alone to the low and the high end of its range, the others "
                    "at their base value.",
                ),
                tuple(sens_charts),
                tuple(sens_tables),
            )
        )
    return out


def _memory_section(result: ComparisonResult, catalog: Catalog) -> Section:
    dep = result.deployment
    sc, arch, prec = dep.scenario, dep.model, dep.precision
    rows = []
    chart_rows = []
    for o in result.outcomes:
        card = catalog.device(o.device)
        fits: list[tuple[str, MemoryFit]] = [
            (f"{o.device}: one server, {o.one_server_fit.plan.label()}", o.one_server_fit)
        ]
        # min_cards counts packages, a plan ranks (dies on a multi-die card)
        one_server = o.one_server_fit.plan.ranks / card.dies
        shape = o.sizing.shape
        if shape is not None and o.values.get("min_cards") != one_server:
            plan = replace(shape, replicas=1)
            fits.append(
                (
                    f"{o.device}: smallest, {o.values['min_cards']} cards",
                    fit(arch, card, plan, prec, sc.context),
                )
            )
        for label, m in fits:
            kv = max(m.kv_capacity, 0.0)
            # bar end = HBM + shortfall: what is used, then the missing KV of one sequence
            missing = m.shortfall - max(-m.kv_capacity, 0.0) if not m.fits else 0.0
            parts = {
                "reserve": m.reserve,
                "weights": m.weights,
                "activations": m.activations,
                "KV cache": kv,
                "shortfall": missing,
            }
            chart_rows.append((label, parts, m.hbm_capacity))
            rows.append(
                [
                    label,
                    fmt(m.hbm_capacity / 2**30, "GiB"),
                    fmt(m.weights / 2**30, "GiB"),
                    fmt((m.reserve + m.activations) / 2**30, "GiB"),
                    fmt(kv / 2**30, "GiB"),
                    fmt(m.max_kv_tokens, "tokens"),
                    "yes" if m.fits else f"no (short {m.shortfall / 2**30:,.1f} GiB)",
                ]
            )
    return Section(
        "memory",
        "Memory fit",
        (
            f"Per card (per die of a multi-die card) at {prec.label}, context {sc.context:,} "
            "tokens: weights, workspace (reserve and activations), and what is left for the KV "
            "cache. Where the model does not fit, the bar runs past the HBM capacity (black "
            "tick) by the shortfall: what is used plus the KV cache of one sequence (hatched).",
        ),
        (Chart("memory", "Memory per card", memory_chart(chart_rows)),),
        (
            table(
                ["deployment", "HBM", "weights", "workspace", "KV cache", "KV tokens", "fits"],
                rows,
                "lrrrrrl",
            ),
        ),
    )


def _validation_section(
    validation: ValidationReport | None, devices: list[str], catalog: Catalog
) -> Section:
    if validation is None:
        return Section("validation", "Validation error", ("No validation cases could be read.",))
    rows = [
        [
            r.case.id,
            r.case.device,
            r.case.metric or "",
            f"{r.case.measured:,.4g}",
            f"{r.predicted:,.4g}",
            f"{r.error_pct:+.1f}%",
        ]
        for r in validation.results
        if r.case.device in devices
    ]
    summary = []
    for d in devices:
        tol, basis = perf_tolerance(catalog, d)
        summary.append([d, basis, f"{tol:.0%}"])
    return Section(
        "validation",
        "Validation error of these cards",
        (
            "Predicted against published measurements (`accelsim validate`), for the cards of "
            "this report; the tolerance (the P90 of the card family's cross-validated errors, "
            "workloads/validation/intervals.yaml) is what the claims check uses for performance "
            "figures.",
        ),
        tables=(
            table(["device", "basis", "tolerance"], summary, "llr"),
            table(["case", "device", "metric", "measured", "predicted", "error"], rows, "lllrrr")
            if rows
            else table(["case"], [["no validation case on these cards"]]),
        ),
    )


# ---- the report -------------------------------------------------------------------------------
def build_report(
    sc: Scenario | Deployment,
    catalog: Catalog,
    devices: list[str] | None = None,
    *,
    prices: str = "international-2025",
    facility: str = "us-2025",
    monte_carlo: int = 2000,
    seed: int = 0,
    plan: str | None = None,
    seeds: int = DEFAULT_SEEDS,
    progress: Callable[[str, int], None] | None = None,
) -> Report:
    """Everything a comparison report shows for ``sc`` (see the module docstring); ``plan``
    is the replica plan each device is sized with and ``seeds`` the replications of each size
    (``accelsim.questions.compare.compare``, which calls ``progress(device, replicas)`` after
    each size it simulates)."""
    dep = deploy(sc, catalog)
    sc = dep.scenario
    book = catalog.prices(prices)
    fac = catalog.facility(facility)
    result = compare(
        dep,
        catalog,
        devices,
        prices=prices,
        facility=facility,
        monte_carlo=monte_carlo,
        seed=seed,
        plan=plan,
        seeds=seeds,
        progress=progress,
    )
    sweeps: dict[str, LoadSweep] = {}
    skipped: list[str] = []
    why = sweepable(sc)
    for o in result.outcomes:
        shape, cards = o.sizing.shape, o.values.get("min_cards")
        if why:
            skipped.append(f"{o.device}: no load sweep ({why}).")
        elif shape is None or not cards:
            skipped.append(f"{o.device}: no load sweep (no deployment fits).")
        else:
            sweeps[o.device] = load_sweep(sc, catalog, o.device, shape, cards)
    try:
        validation = run_validation(catalog)
    except AccelsimError:
        validation = None
    checks = (
        check_claims(
            list(sc.claims),
            sc,
            catalog,
            comparison=result,
            sweeps=sweeps,
            prices=prices,
            facility=facility,
            seed=seed,
        )
        if sc.claims
        else []
    )
    whatif = tuple(str(o) for o in (*catalog.overrides, *catalog.scenario_overrides))
    t = sc.traffic_spec
    count = f"{t.requests:,} requests" if t.requests else f"{t.duration:g} s"
    rate = f"{t.rate:g}/s " if t.rate else ""
    arch = catalog.model(sc.model)
    facts = (
        ("scenario", f"{sc.name} (digest {sc.digest[:12]})"),
        ("model", sc.model + (" (HYPOTHETICAL)" if arch.hypothetical else "")),
        ("precision", f"{sc.dtype} (KV {sc.kv_dtype}), context {sc.context:,} tokens"),
        ("devices", ", ".join(result.devices)),
        ("traffic", f"{t.name or 'inline'}: {t.arrival} {rate}{count}".strip()),
        ("SLOs", f"p99 TTFT <= {fmt(sc.slo.ttft, 's')}, p99 TPOT <= {fmt(sc.slo.tpot, 's')}"),
        ("prices", f"{prices} ({book.currency}, as of {book.as_of})"),
        (
            "facility",
            f"{facility}" + (f" (as of {fac.as_of})" if getattr(fac, "as_of", None) else ""),
        ),
        ("Monte Carlo", f"{monte_carlo:,} draws, seed {seed}"),
        ("what-if overrides", "; ".join(whatif) if whatif else "none (catalog values)"),
    )
    sections = _summary(result, catalog)
    if checks:
        sections.append(_claims_section(checks, sc, catalog))
    sections.append(_sweep_section(sweeps, sc, skipped))
    sections += _cost_section(result, prices, facility)
    sections.append(_memory_section(result, catalog))
    sections.append(deployment_section(result, catalog, facility))
    involved = [
        *result.devices,
        *(c.claim.device for c in checks if c.claim.device not in result.devices),
    ]
    sections.append(_validation_section(validation, involved, catalog))
    entries = used_entries(result, sc, catalog, prices, facility, [c.claim.device for c in checks])
    sections.append(assumptions(entries, catalog))
    title = f"accelsim report: {sc.model} ({sc.dtype}) on {' vs '.join(result.devices)}"
    return Report(
        title=title,
        facts=facts,
        whatif=whatif,
        sections=tuple(sections),
        generator=f"accelsim {__version__}",
    )
