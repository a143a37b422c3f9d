"""``accelsim step``: one iteration's breakdown, its bound and its prediction interval."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Table

import accelsim.cli.options as opt
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.ops import OP_CLASSES
from accelsim.model.plan import MemoryFit, fit, parse_plan
from accelsim.model.routing import ROUTING_KINDS, RoutingModel
from accelsim.run.timing import perf_model_from_catalog, routing_model
from accelsim.units import format_quantity
from accelsim.validate.intervals import interval_for


@opt.app.command()
def step(
    model: Annotated[str, typer.Argument(help="Model name (see `accelsim catalog models`).")],
    device: Annotated[str, typer.Option("--device", "-d", help="Card name.")],
    cards: Annotated[int | None, typer.Option("--cards", help="Cards (packages) in use.")] = None,
    plan: Annotated[
        str, typer.Option("--plan", help="e.g. tp=1,dp=32,ep=32 (ranks; dies on multi-die cards).")
    ] = "tp=1",
    dtype: Annotated[
        str,
        typer.Option(
            "--dtype",
            help="Precision preset: bf16, fp8, int8, w8a16, w4a16, ..., or mixed: "
            "fp8-mxfp4, w8a8-mixed, w4a8-mixed, w4a16-mxfp4 (a mixed checkpoint such as "
            "DeepSeek-V4 resolves fp8/w8a8/w4a8/w4a16 to these)",
        ),
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
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
    json_out: opt.JsonOpt = False,
) -> None:
    """Price one forward iteration: time per op class, share, bound, tokens/s per card."""
    cat = opt.open_catalog(catalog, set_)
    card = cat.device(device)
    ranks = cards * card.dies if cards is not None else None
    p = parse_plan(plan, ranks)
    if overlap:
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
    kind = "decode" if batch.decode_seqs else "prefill"
    interval = interval_for(cat, device, kind, st.tokens_per_s_per_card)
    seqs = decode_batch if decode_batch is not None else prefill_seqs
    seq_len = context if decode_batch is not None else context + (prefill_tokens or 0)
    mem = fit(
        cat.model(model),
        card,
        replace(p, replicas=1),
        pm.prec,
        max(seq_len, 1),
        include_mtp=spec is not None and spec_method == "mtp",
        draft=cat.model(draft_model) if spec is not None and draft_model else None,
    )
    fit_note = _fit_note(mem, seqs, seq_len)
    if json_out:
        payload = st.as_dict()
        payload.update(
            fits=fit_note is None,
            largest_batch_that_fits=mem.max_batch_at_context if mem.fits else 0,
            fit_note=fit_note,
        )
        payload.update(
            model=model,
            device=device,
            plan=p.label(),
            dtype=dtype,
            routing=rm.label,
            tokens_per_decode_step=pm.tokens_per_decode_step,
            interval=interval.as_dict(),
        )
        opt.emit_json(payload, cat)
        return
    what_if = " (what-if)" if cat.overrides_in_effect() else ""
    shown = dtype if pm.prec.label in (dtype, precision(dtype, kv_dtype).label) else pm.prec.label
    table = Table(title=f"{model} on {device} ({p.label()}, {shown}) — one iteration{what_if}")
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
    opt.console.print(table)
    if fit_note is not None:
        opt.console.print(f"[bold red]{fit_note}[/]", highlight=False)
    opt.print_overrides(cat)
    opt.console.print(
        f"tokens/iteration {st.tokens:,.0f} on {st.cards:g} cards -> "
        f"[bold]{st.tokens_per_s_per_card:,.1f} tokens/s per card[/] {interval.label(',.1f')}"
        + (
            f"; TPOT {format_quantity(st.total_s / pm.tokens_per_decode_step, 'time')}"
            if batch.decode_seqs
            else ""
        )
        + (
            f"; {format_quantity(st.hidden_comm_s, 'time')} communication hidden by overlap"
            if st.hidden_comm_s
            else ""
        ),
        highlight=False,  # the figures' look is the markup's; rich's number regexes cost ~10 ms
    )
    opt.console.print(f"P10–P90 from cross-validated residuals: {interval.basis}", highlight=False)
    if framework and cat.framework_profile(framework, card.vendor) is None:
        opt.console.print(
            f"no framework profile for {framework} on {card.vendor} cards "
            "(accelsim catalog frameworks): priced by the card's roofline alone",
            highlight=False,
        )
    if pm.token_layer_s > 0:
        opt.console.print(
            f"framework {framework} on {card.vendor}: calibrated cost of "
            f"{format_quantity(pm.token_layer_s, 'time')} per decode token and layer, "
            f"{format_quantity(st.times['overhead'] - pm.rates.iteration_s, 'time')} this step",
            highlight=False,
        )


def _fit_note(mem: MemoryFit, seqs: int, seq_len: int) -> str | None:
    """Why the priced batch cannot exist in memory (with the largest one that can), or None."""
    if not mem.fits:
        return (
            f"does not fit: {mem.model} on {mem.device} with {mem.plan.label()} leaves no KV "
            f"room for one sequence of {max(seq_len, 1):,} tokens ({mem.shortfall / 1e9:.1f} GB "
            "per rank short); the largest batch that fits is 0 — use more cards or a "
            "smaller precision"
        )
    if seqs > mem.max_batch_at_context:
        return (
            f"does not fit: {seqs} sequences of {max(seq_len, 1):,} tokens need "
            f"{seqs * max(seq_len, 1):,} KV tokens per replica; {mem.plan.label()} holds "
            f"{mem.max_kv_tokens:,}; the largest batch that fits is "
            f"{mem.max_batch_at_context} — the figures above price a batch that cannot exist"
        )
    return None
