"""``accelsim step`` (one iteration's breakdown) and ``accelsim validate`` (error table)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from accelsim.cli.options import (
    CatalogOpt,
    JsonOpt,
    SetOpt,
    app,
    console,
    emit_json,
    open_catalog,
    print_overrides,
)
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.ops import OP_CLASSES
from accelsim.model.plan import parse_plan
from accelsim.model.routing import ROUTING_KINDS, RoutingModel
from accelsim.run.timing import perf_model_from_catalog
from accelsim.units import format_quantity
from accelsim.validate.calibrate import calibrations
from accelsim.validate.predict import routing_model, run_validation


@app.command()
def step(
    model: Annotated[str, typer.Argument(help="Model name (see `accelsim catalog models`).")],
    device: Annotated[str, typer.Option("--device", "-d", help="Card name.")],
    cards: Annotated[int | None, typer.Option("--cards", help="Cards (packages) in use.")] = None,
    plan: Annotated[
        str, typer.Option("--plan", help="e.g. tp=1,dp=32,ep=32 (ranks; dies on multi-die cards).")
    ] = "tp=1",
    dtype: Annotated[
        str, typer.Option("--dtype", help="Precision preset: bf16, fp8, int8, w8a16, w4a16, ...")
    ] = "bf16",
    kv_dtype: Annotated[str | None, typer.Option("--kv-dtype", help="KV-cache dtype.")] = None,
    decode_batch: Annotated[
        int | None, typer.Option("--decode-batch", help="Decode sequences per replica.")
    ] = None,
    context: Annotated[
        int,
        typer.Option(
            "--context", help="KV context per decode sequence (prior context of a prefill chunk)."
        ),
    ] = 0,
    prefill_tokens: Annotated[
        int | None, typer.Option("--prefill-tokens", help="New tokens per prefill sequence.")
    ] = None,
    prefill_seqs: Annotated[
        int, typer.Option("--prefill-seqs", help="Prefill sequences per replica.")
    ] = 1,
    mtp: Annotated[int, typer.Option("--mtp", help="Draft tokens per step (0: none).")] = 0,
    accept: Annotated[float, typer.Option("--accept", help="Per-draft acceptance rate.")] = 0.7,
    spec_method: Annotated[str, typer.Option("--spec-method", help="mtp or eagle3.")] = "mtp",
    draft_model: Annotated[
        str | None,
        typer.Option("--draft-model", help="EAGLE draft model (with --spec-method eagle3)."),
    ] = None,
    routing: Annotated[
        str,
        typer.Option(
            "--routing", help="uniform, zipf, dirichlet or a validation profile (production)."
        ),
    ] = "uniform",
    skew: Annotated[float, typer.Option("--skew", help="Routing skew (zipf/dirichlet).")] = 0.0,
    overlap: Annotated[
        bool,
        typer.Option("--overlap", help="Two micro-batches overlap communication with compute."),
    ] = False,
    server: Annotated[
        str | None, typer.Option("--server", help="Server (default: the card's).")
    ] = None,
    framework: Annotated[
        str | None,
        typer.Option(
            "--framework",
            help="Serving framework (e.g. sglang): adds its calibrated profile on the card's "
            "vendor, when the catalog has one (accelsim catalog frameworks).",
        ),
    ] = None,
    catalog: CatalogOpt = None,
    set_: SetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Price one forward iteration: time per op class, share, bound, tokens/s per card."""
    cat = open_catalog(catalog, set_)
    card = cat.device(device)
    ranks = cards * card.dies if cards is not None else None
    p = parse_plan(plan, ranks)
    if overlap:
        from dataclasses import replace

        p = replace(p, micro_batch_overlap=True)
    if (decode_batch is None) == (prefill_tokens is None):
        raise AccelsimError("give exactly one of --decode-batch B or --prefill-tokens T")
    if routing in ROUTING_KINDS and routing != "counts":
        rm = RoutingModel(kind=routing, skew=skew)
    elif routing in cat.names("routing"):
        rm = routing_model(cat, routing)
    else:
        raise AccelsimError(f"--routing {routing!r}: choose uniform, zipf, dirichlet or production")
    spec = SpecDecode(spec_method, mtp, accept, draft_model) if mtp > 0 else None
    pm = perf_model_from_catalog(
        cat,
        model,
        device,
        p,
        precision(dtype, kv_dtype),
        routing=rm,
        spec=spec,
        server=server,
        framework=framework,
    )
    if decode_batch is not None:
        batch = BatchStats.decode(decode_batch, context)
    else:
        one = BatchStats.prefill_chunk(prefill_tokens or 0, context)
        batch = BatchStats(
            prefill_seqs=prefill_seqs,
            prefill_tokens=prefill_seqs * (prefill_tokens or 0),
            prefill_attention_pairs=prefill_seqs * one.prefill_attention_pairs,
            prefill_context_tokens=prefill_seqs * one.prefill_context_tokens,
        )
    st = pm.step(batch)
    if json_out:
        payload = st.as_dict()
        payload.update(
            model=model,
            device=device,
            plan=p.label(),
            dtype=dtype,
            routing=rm.label,
            tokens_per_decode_step=pm.tokens_per_decode_step,
        )
        emit_json(payload, cat)
        return
    what_if = " (what-if)" if cat.overrides_in_effect() else ""
    table = Table(title=f"{model} on {device} ({p.label()}, {dtype}) — one iteration{what_if}")
    for col, just in (
        ("op", "left"),
        ("time", "right"),
        ("share", "right"),
        ("bound", "left"),
        ("FLOPs/rank", "right"),
        ("HBM bytes/rank", "right"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for c in OP_CLASSES:
        t = st.times[c]
        if t == 0.0:
            continue
        table.add_row(
            c,
            format_quantity(t, "time"),
            f"{st.share(c):.1%}",
            st.bounds[c],
            format_quantity(st.flops[c], "flops"),
            format_quantity(st.hbm_bytes[c], "bytes"),
        )
    table.add_row(
        "total", format_quantity(st.total_s, "time"), "100%", st.bound, "", "", style="bold"
    )
    console.print(table)
    print_overrides(cat)
    console.print(
        f"tokens/iteration {st.tokens:,.0f} on {st.cards:g} cards -> "
        f"[bold]{st.tokens_per_s_per_card:,.1f} tokens/s per card[/]"
        + (
            f"; TPOT {format_quantity(st.total_s / pm.tokens_per_decode_step, 'time')}"
            if batch.decode_seqs
            else ""
        )
        + (
            f"; {format_quantity(st.hidden_comm_s, 'time')} communication hidden by overlap"
            if st.hidden_comm_s
            else ""
        )
    )
    if framework and cat.framework_profile(framework, card.vendor) is None:
        console.print(
            f"no framework profile for {framework} on {card.vendor} cards "
            "(accelsim catalog frameworks): priced by the card's roofline alone"
        )
    if pm.token_layer_s > 0:
        console.print(
            f"framework {framework} on {card.vendor}: calibrated cost of "
            f"{format_quantity(pm.token_layer_s, 'time')} per decode token and layer, "
            f"{format_quantity(st.times['overhead'] - pm.rates.iteration_s, 'time')} this step"
        )


@app.command()
def validate(
    file: Annotated[
        str | None, typer.Argument(help="Case file (default: every workloads/validation/*.yaml).")
    ] = None,
    catalog: CatalogOpt = None,
    set_: SetOpt = None,
    json_out: JsonOpt = False,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the error table as Markdown.")
    ] = False,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Also refit every calibrated number on its fit cases and show it next to the "
            "shipped value (slower: the fits simulate).",
        ),
    ] = False,
) -> None:
    """Predict every published validation case and print the signed errors."""
    cat = open_catalog(catalog, set_)
    rep = run_validation(cat, file)
    cal = calibrations(cat, file) if refit else None
    if markdown:
        sys.stdout.write(rep.markdown())
        print_overrides(cat)
        return
    if json_out:
        payload = rep.as_dict()
        if cal is not None:
            payload["calibrations"] = cal
        emit_json(payload, cat)
        return
    table = Table(title="accelsim validation: predicted vs measured")
    for col in ("case", "mode", "split", "device", "metric", "measured", "predicted", "error"):
        table.add_column(
            col, justify="right" if col in ("measured", "predicted", "error") else "left"
        )
    for r in rep.results:
        c = r.case
        err = r.error_pct
        style = "green" if abs(err) <= 15 else "yellow" if abs(err) <= 50 else "red"
        table.add_row(
            c.id,
            c.mode,
            c.split,
            c.device,
            f"{c.metric} [{c.unit}]",
            f"{c.measured:.4g}",
            f"{r.predicted:.4g}",
            f"[{style}]{err:+.1f}%[/]",
        )
    console.print(table)
    print_overrides(cat)
    agg = Table(title="aggregate (absolute error)")
    for col in ("group", "cases", "median", "max"):
        agg.add_column(col, justify="left" if col == "group" else "right")
    agg.add_row(
        "all",
        str(len(rep.results)),
        f"{rep.median_abs_error_pct:.1f}%",
        f"{rep.max_abs_error_pct:.1f}%",
        style="bold",
    )
    for title in ("mode", "split", "device"):
        for k, v in rep.by(title).items():
            agg.add_row(
                f"{title} {k}",
                str(v["n"]),
                f"{v['median_abs_error_pct']:.1f}%",
                f"{v['max_abs_error_pct']:.1f}%",
            )
    console.print(agg)
    if cal is not None:
        ct = Table(title="calibrated numbers: shipped against a refit on their fit cases")
        for col in ("number", "shipped", "refit", "fit cases"):
            if col in ("shipped", "refit"):
                ct.add_column(col, justify="right")
            else:
                ct.add_column(col, overflow="fold")
        for row in cal:
            ct.add_row(
                row["key"],
                f"{row['shipped']:.4g}",
                f"{row['refit']:.4g}",
                ", ".join(row["fit_cases"]),
            )
        console.print(ct)
    for c in rep.pending:
        console.print(f"[bold]pending[/] {c.id}: {c.reason}")
    for c in rep.skipped:
        console.print(f"[dim]skipped {c.id}: {c.reason}[/]")
