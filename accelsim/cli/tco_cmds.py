"""``accelsim tco`` (cost of a deployment, or of renting it) and ``accelsim cluster-cost``
(the "1,000-card cluster" press claim of ``workloads/scenarios/seed-claims.yaml`` against the
price books)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

import accelsim.cli.options as opt
from accelsim.catalog.prices import output_fx
from accelsim.errors import AccelsimError
from accelsim.files import atomic_write, check_output_file
from accelsim.model.cost import (
    BREAKDOWN,
    OUTPUTS,
    UNCERTAIN_INPUTS,
    TcoResult,
)
from accelsim.model.rental import RentalCost, rental_cost
from accelsim.model.uncertainty import RangedTco, TcoUncertainty, default_output, parse_dist
from accelsim.questions.claims import cluster_tco_readings
from accelsim.questions.cluster_cost import (
    PRESS_SCENARIO,
    cluster_cost_claim,
    scenario_cluster_claim,
)
from accelsim.report.cluster_cost import claim_markdown
from accelsim.run.pricing import estimate_tco, rental_rate
from accelsim.run.summary_file import read_run_summary


def _money(value: float, currency: str, digits: int | None = None) -> str:
    if math.isnan(value):
        return "-"
    if digits is None:
        digits = 0 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    return f"{value:,.{digits}f} {currency}"


def _fmt(result: TcoResult | None, key: str, value: float, currency: str) -> str:
    unit = OUTPUTS[key][1]
    if math.isnan(value):
        return "-"
    if unit.startswith("USD"):
        tail = unit[3:]
        return _money(value, currency + tail)
    if unit == "W":
        return f"{value / 1000:,.1f} kW"
    return f"{value:,.3g} {unit}"


_ROWS = (
    "capex_compute",
    "capex_network",
    "capex_storage",
    "capex_installation",
    "capex",
    *BREAKDOWN,
    "opex_per_year",
    "per_year",
    "per_day",
    "per_card_hour",
    "usd_per_mtok_output",
    "usd_per_mtok_input",
    "usd_per_mtok_blended",
    "usd_per_request",
    "it_power_w",
    "provisioned_power_w",
    "tokens_per_joule",
    "output_tokens_per_joule",
)


def _result_table(result: TcoResult) -> Table:
    inp = result.inputs
    title = (
        f"{inp.cards:,} x {inp.device} ({inp.nodes} nodes) — {inp.prices} / {inp.facility}, "
        f"{inp.years:g} y {inp.amortization.replace('_', ' ')}"
        + (f" at {inp.cost_of_capital:.1%} cost of capital" if inp.cost_of_capital else "")
    )
    table = Table(title=title, title_justify="left")
    table.add_column("item")
    table.add_column(f"value ({result.currency})", justify="right")
    table.add_column("share of cost/yr", justify="right")
    per_year = result.per_year_usd
    for key in _ROWS:
        value = result.value(key)
        if math.isnan(value):
            continue
        share = f"{result.values[key] / per_year:.0%}" if key in BREAKDOWN and per_year else ""
        style = (
            "bold" if key in ("capex", "per_year", "per_card_hour", "usd_per_mtok_output") else None
        )
        table.add_row(
            OUTPUTS[key][0], _fmt(result, key, value, result.currency), share, style=style
        )
    net = result.network
    table.add_row(
        "network", f"{net.switches} switches, {net.tiers} tier(s), {net.links} links", net.topology
    )
    return table


def _uncertainty_table(mc: TcoUncertainty) -> Table:
    table = Table(title=f"Monte Carlo, {mc.n:,} draws, seed {mc.seed}", title_justify="left")
    for col in ("output", "P10", "P50", "P90"):
        table.add_column(col, justify="left" if col == "output" else "right")
    p10, p50, p90 = mc.p10, mc.p50, mc.p90
    for key in (
        "capex",
        "opex_per_year",
        "per_year",
        "per_card_hour",
        "usd_per_mtok_output",
        "usd_per_mtok_input",
        "usd_per_mtok_blended",
        "usd_per_request",
        "tokens_per_joule",
    ):
        if math.isnan(p50[key]):
            continue
        table.add_row(
            OUTPUTS[key][0], *(_fmt(None, key, q[key], mc.currency) for q in (p10, p50, p90))
        )
    return table


def _ranges_table(mc: TcoUncertainty) -> Table:
    table = Table(title="Input ranges", title_justify="left")
    table.add_column("input")
    table.add_column("range")
    table.add_column("basis")
    for name, dist in sorted(mc.ranges.items()):
        table.add_row(name, dist.describe(), dist.basis)
    return table


def _sensitivity_table(rows: list[Any], output: str, currency: str, fx: float) -> Table:
    table = Table(
        title=f"Sensitivity of {OUTPUTS[output][0]} (one input at a time)", title_justify="left"
    )
    for col in ("input", "low -> high input", "at low", "at high", "swing"):
        table.add_column(col, justify="left" if col.startswith(("input", "low")) else "right")
    money = OUTPUTS[output][1].startswith("USD")
    scale = fx if money else 1.0
    for r in rows[:12]:
        if not r.swing:
            continue
        table.add_row(
            r.label,
            f"{r.low_input:,.4g} -> {r.high_input:,.4g}",
            _fmt(None, output, r.low_output * scale, currency),
            _fmt(None, output, r.high_output * scale, currency),
            _fmt(None, output, r.swing * scale, currency),
        )
    return table


def _rental_table(rent: RentalCost, currency: str, fx: float, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("item")
    table.add_column(f"value ({currency})", justify="right")
    rows = [
        ("rate per card-hour", rent.rate_per_card_hour, "/card-h"),
        ("cards", None, f"{rent.cards:,.6g}"),
        ("per hour", rent.per_hour_usd, "/h"),
        ("per day", rent.per_day_usd, "/day"),
        (f"total for {rent.hours:g} h", rent.total_usd, ""),
        ("per year", rent.per_year_usd, "/yr"),
        ("$/M output", rent.usd_per_mtok_output, "/Mtok"),
        ("per M input tokens (all cost)", rent.usd_per_mtok_input, "/Mtok"),
        ("$/M blended", rent.usd_per_mtok_blended, "/Mtok"),
    ]
    for label, value, unit in rows:
        if value is None:
            table.add_row(label, unit)
        elif not math.isnan(value):
            table.add_row(label, _money(value * fx, currency + unit))
    return table


def _parse_ranges(specs: list[str], result: RangedTco | None = None) -> dict[str, Any]:
    out = {}
    for spec in specs:
        name, sep, text = spec.partition("=")
        name = name.strip()
        if not sep or not text.strip():
            raise AccelsimError(
                f"--range {spec!r}: expected NAME=SPEC, e.g. power_price_per_kwh=0.06:0.08:0.12"
            )
        if name not in UNCERTAIN_INPUTS:
            raise AccelsimError(
                f"--range {spec!r}: unknown input {name!r} (inputs: {', '.join(UNCERTAIN_INPUTS)})"
            )
        base = getattr(result.inputs, name) if result is not None else None
        out[name] = parse_dist(text, base)
    return out


def _whole(value: float, what: str) -> int:
    if value != int(value) or value < 1:
        raise AccelsimError(f"{what} must be a positive whole number (got {value:g})")
    return int(value)


@opt.app.command("tco")
def tco_cmd(
    device: Annotated[str | None, typer.Option("--device", "-d", help="Card name.")] = None,
    cards: Annotated[
        float | None,
        typer.Option(
            "--cards",
            "-n",
            help="Number of cards (fractional only with --rental: an average fleet).",
        ),
    ] = None,
    utilization: Annotated[
        float | None,
        typer.Option(
            "--utilization",
            "-u",
            help="Card activity, 0-1: the share of time compute or HBM work at peak (a "
            "run's `activity`); it sets the cards' power between idle and TDP.",
        ),
    ] = None,
    from_result: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="summary JSON of `accelsim run --out DIR` (or DIR): device, cards, "
            "activity, tokens/s.",
        ),
    ] = None,
    prices: opt.PricesOpt = opt.DEFAULT_PRICES,
    facility: opt.FacilityOpt = opt.DEFAULT_FACILITY,
    server: Annotated[
        str | None, typer.Option("--server", help="Server (default: the card's default_server).")
    ] = None,
    pricing: Annotated[
        str,
        typer.Option("--pricing", help="auto (server price if the book has it), server or card."),
    ] = "auto",
    years: Annotated[
        float | None,
        typer.Option("--years", help="Life in years (default: the facility's depreciation_years)."),
    ] = None,
    amortization: Annotated[
        str,
        typer.Option(
            "--amortization",
            help="annuity (default: level payments at the cost of capital) or straight_line.",
        ),
    ] = "annuity",
    cost_of_capital: Annotated[
        float | None,
        typer.Option(
            "--cost-of-capital",
            help="Yearly financing rate (WACC or loan rate), e.g. 0.08 (default: the "
            "facility's cost_of_capital).",
        ),
    ] = None,
    tokens_per_s: Annotated[
        float | None, typer.Option("--tokens-per-s", help="Cluster output tokens/s.")
    ] = None,
    input_tokens_per_s: Annotated[
        float | None, typer.Option("--input-tokens-per-s", help="Cluster input (prompt) tokens/s.")
    ] = None,
    requests_per_s: Annotated[
        float | None,
        typer.Option("--requests-per-s", help="Completed requests/s (gives cost per request)."),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="Output currency.")] = "USD",
    fx_per_usd: Annotated[
        float | None,
        typer.Option(
            "--fx-per-usd", help="Units of --currency per USD (default: the book's rate)."
        ),
    ] = None,
    monte_carlo: Annotated[
        int, typer.Option("--monte-carlo", help="Monte Carlo draws (0: point estimate only).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Monte Carlo seed.")] = 0,
    ranges: Annotated[
        list[str] | None,
        typer.Option(
            "--range",
            help="NAME=LOW:BASE:HIGH | uniform:LOW:HIGH | lognormal:MEDIAN:SIGMA | "
            "±PCT%; repeatable (replaces that input's default range).",
        ),
    ] = None,
    show_sensitivity: Annotated[
        bool,
        typer.Option("--sensitivity", help="Show the one-at-a-time sensitivity (tornado) table."),
    ] = False,
    rental: Annotated[
        bool,
        typer.Option("--rental", help="Cost of renting the cards instead (rate x cards x hours)."),
    ] = False,
    rental_rate_opt: Annotated[
        float | None,
        typer.Option("--rental-rate", help="USD per card-hour (default: the price book's rate)."),
    ] = None,
    hours: Annotated[float, typer.Option("--hours", help="Rental period in hours.")] = 24.0,
    json_out: opt.JsonOpt = False,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
) -> None:
    """Cost of owning (or renting) N cards: $/card-hour, $/cluster-year, $/M tokens."""
    if from_result is not None:
        run = read_run_summary(from_result)
        device = device or run.device
        cards = cards if cards is not None else run.cards
        utilization = utilization if utilization is not None else run.utilization
        tokens_per_s = tokens_per_s if tokens_per_s is not None else run.output_tokens_per_s
        if input_tokens_per_s is None:
            input_tokens_per_s = run.input_tokens_per_s
        if requests_per_s is None:
            requests_per_s = run.requests_per_s
    if cards is None:
        raise AccelsimError("give --cards N (or --from RESULT.json)")
    if not math.isfinite(cards) or cards <= 0:
        raise AccelsimError(f"--cards must be positive (got {cards:g})")
    cat = opt.open_catalog(catalog, set_)
    if rental:
        _rental(
            cat,
            device,
            cards,
            prices,
            facility,
            rental_rate_opt,
            hours,
            tokens_per_s,
            input_tokens_per_s,
            currency,
            fx_per_usd,
            json_out,
        )
        return
    if device is None:
        raise AccelsimError("give --device D (or --from RESULT.json)")
    if utilization is None:
        raise AccelsimError(
            "give --utilization U (0-1), the cards' activity from a run (or --from RESULT.json)"
        )
    n = _whole(cards, "--cards")
    if monte_carlo < 0:
        raise AccelsimError(f"--monte-carlo must be >= 0 (got {monte_carlo})")
    if pricing not in ("auto", "server", "card"):
        raise AccelsimError(f"--pricing {pricing!r}: expected auto, server or card")
    result = estimate_tco(
        cat,
        device,
        n,
        utilization=utilization,
        prices=prices,
        facility=facility,
        years=years,
        throughput=tokens_per_s,
        input_tokens_per_s=input_tokens_per_s,
        requests_per_s=requests_per_s,
        server=server,
        pricing=pricing,  # type: ignore[arg-type]
        amortization=amortization,
        cost_of_capital=cost_of_capital,
        currency=currency,
        fx_per_usd=fx_per_usd,
    )
    user_ranges = _parse_ranges(ranges or [], result)
    if user_ranges:
        result = result.with_ranges(user_ranges)
    mc = result.monte_carlo(monte_carlo, seed) if monte_carlo else None
    sens = result.sensitivity() if (monte_carlo or show_sensitivity) else None
    sens_output = default_output(result.inputs)
    if json_out:
        payload: dict[str, Any] = {"tco": result.as_dict()}
        if mc is not None:
            payload["monte_carlo"] = mc.as_dict()
        if sens is not None:
            scale = result.fx_per_usd if OUTPUTS[sens_output][1].startswith("USD") else 1.0
            payload["sensitivity"] = {
                "output": sens_output,
                "rows": [
                    {
                        "input": r.input,
                        "low_input": r.low_input,
                        "high_input": r.high_input,
                        "low_output": r.low_output * scale,
                        "high_output": r.high_output * scale,
                        "swing": r.swing * scale,
                    }
                    for r in sens
                ],
            }
        opt.emit_json(payload, cat)
        return
    opt.console.print(_result_table(result))
    opt.print_overrides(cat)
    rent = result.rental()
    if rent is not None:
        opt.console.print(
            _rental_table(
                rent, result.currency, result.fx_per_usd, f"Renting the same {n:,} cards instead"
            )
        )
    if mc is not None:
        opt.console.print(_uncertainty_table(mc))
        opt.console.print(_ranges_table(mc))
    if sens is not None:
        opt.console.print(_sensitivity_table(sens, sens_output, result.currency, result.fx_per_usd))
    for note in result.inputs.notes:
        opt.console.print(f"[dim]note: {note}[/]", highlight=False)
    opt.console.print(
        "[dim]$/M tokens charge all cost to the tokens named (output, input, or "
        "input+output): three views of one cost, not a split.[/]",
        highlight=False,
    )


def _rental(
    cat: Any,
    device: str | None,
    cards: float,
    prices: str,
    facility: str,
    rate: float | None,
    hours: float,
    tokens_per_s: float | None,
    input_tokens_per_s: float | None,
    currency: str,
    fx_per_usd: float | None,
    json_out: bool,
) -> None:
    if rate is None:
        if device is None:
            raise AccelsimError(
                "--rental needs --rental-rate USD/card-hour or --device D with a "
                "rental rate in the price book"
            )
        rate = rental_rate(cat, device, prices)
    rent = rental_cost(
        rate,
        cards,
        hours=hours,
        output_tokens_per_s=tokens_per_s,
        input_tokens_per_s=input_tokens_per_s,
    )
    entries = [cat.prices(prices)] if prices in cat.names("prices") else []
    if facility in cat.names("facility"):
        entries.append(cat.facility(facility))
    fx = output_fx(currency, *entries, fx_per_usd=fx_per_usd)
    if json_out:
        data = rent.as_dict()
        opt.emit_json(
            {
                "rental": {
                    k: (v * fx if k not in ("cards", "hours") else v) for k, v in data.items()
                },
                "currency": currency.upper(),
                "device": device,
            },
            cat,
        )
        return
    name = f" x {device}" if device else ""
    opt.console.print(
        _rental_table(rent, currency.upper(), fx, f"Renting {cards:,.6g} cards{name}")
    )
    opt.print_overrides(cat)


_AMOUNT = re.compile(r"^\s*\$?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([kKmMbB])?\s*$")


def _amount(text: str) -> float:
    m = _AMOUNT.match(text)
    if not m:
        raise AccelsimError(f"cannot read {text!r} as a USD amount (e.g. 4.5M, 7200000)")
    scale = {None: 1.0, "k": 1e3, "m": 1e6, "b": 1e9}[(m.group(2) or "").lower() or None]
    return float(m.group(1).replace(",", "")) * scale


@opt.app.command("cluster-cost")
def cluster_cost_cmd(
    cards: Annotated[int, typer.Option("--cards", "-n", help="Cluster size in cards.")] = 1000,
    claims: Annotated[
        list[str] | None,
        typer.Option(
            "--claim",
            help="DEVICE=USD claimed for the cluster, e.g. ascend-910b2=4.5M; "
            f"repeatable (default: the press claim of the {PRESS_SCENARIO} scenario, 910B "
            "$4.5M vs A100 $7.2M).",
        ),
    ] = None,
    prices: Annotated[
        list[str] | None, typer.Option("--prices", help="Price book(s) to use (default: all).")
    ] = None,
    markdown: Annotated[
        Path | None,
        typer.Option(
            "--markdown", help="Write the Markdown report (docs/cluster-cost-claim.md) here."
        ),
    ] = None,
    json_out: opt.JsonOpt = False,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
) -> None:
    """What a claimed cluster cost implies per card, against the price books (cards only and
    all-in capex: servers + network + storage + installation)."""
    if cards < 1:
        raise AccelsimError(f"--cards must be positive (got {cards})")
    if markdown is not None:
        check_output_file(markdown, "--markdown", (".md",))
    cat = opt.open_catalog(catalog, set_)
    table: dict[str, tuple[str, float]] = {}
    for spec in claims or []:
        dev, sep, text = spec.partition("=")
        if not sep:
            raise AccelsimError(f"--claim {spec!r}: expected DEVICE=USD, e.g. ascend-910b2=4.5M")
        value = _amount(text)
        if value <= 0:
            raise AccelsimError(f"--claim {spec!r}: the claimed cost must be positive")
        table[dev.strip()] = (f"{dev.strip()}, {cards:,} cards", value)
    if not table:
        table = scenario_cluster_claim(cat, cards)
    rows = cluster_cost_claim(cat, table, cards=cards, prices=prices)
    if not rows:
        raise AccelsimError("no price book prices any of the claimed devices")
    if markdown is not None:
        tco = cluster_tco_readings(cat, table, cards)
        atomic_write(markdown, claim_markdown(rows, cards, tco))
    if json_out:
        opt.emit_json(
            {
                "cards": cards,
                "rows": [r.as_dict() for r in rows],
                "markdown": str(markdown) if markdown else None,
            },
            cat,
        )
        return
    claim_t = Table(title=f"Claimed cost of {cards:,} cards", title_justify="left")
    for col in ("claim", "total", "implied per card"):
        claim_t.add_column(col, justify="left" if col == "claim" else "right")
    for label, usd in dict.fromkeys((r.claim_label, r.claim_usd) for r in rows):
        claim_t.add_row(label, _money(usd, "USD"), _money(usd / cards, "USD"))
    opt.console.print(claim_t)
    t = Table(title="What the price books give (USD)", title_justify="left")
    for col in (
        "device",
        "book",
        "card",
        "server",
        "cards only",
        "network",
        "all-in capex",
        "all-in / claim",
    ):
        t.add_column(col, justify="left" if col in ("device", "book") else "right")
    for r in rows:
        t.add_row(
            r.device,
            r.prices,
            "-" if r.card_price_usd is None else _money(r.card_price_usd, ""),
            "-" if r.server_price_usd is None else _money(r.server_price_usd, ""),
            "-" if r.cards_only_usd is None else _money(r.cards_only_usd, ""),
            _money(r.network_usd, ""),
            "-" if r.all_in_usd is None else _money(r.all_in_usd, ""),
            "-" if r.all_in_usd is None else f"{r.all_in_usd / r.claim_usd:.1f}x",
        )
    opt.console.print(t)
    opt.print_overrides(cat)
    if markdown is not None:
        opt.console.print(f"wrote {markdown}", highlight=False)
