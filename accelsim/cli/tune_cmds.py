"""``accelsim tune``: search serving plans for a card budget (``accelsim.questions.tune``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

import accelsim.cli.options as opt
import accelsim.cli.progress as bars
from accelsim.cli.emit import EmitOpt, check_emit, print_recipe
from accelsim.errors import AccelsimError
from accelsim.questions.tune import tune


class _StageProgress:
    """One rich bar per stage (analytic scoring, simulation), fed by ``run_sweep``."""

    def __init__(self, bar: Progress, stage: str) -> None:
        self.bar, self.stage, self.task = bar, stage, None

    def start(self, total: int, done: int) -> None:
        self.task = self.bar.add_task(self.stage, total=total, completed=done)

    def advance(self, result: dict[str, Any]) -> None:
        self.bar.update(self.task, advance=1)


def _ints(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise AccelsimError(f"{what} {text!r}: expected whole numbers, e.g. 2048,8192") from None
    if not values or any(v < 1 for v in values):
        raise AccelsimError(f"{what} {text!r}: expected positive whole numbers")
    return values


def _s(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v * 1000:.0f}ms" if v < 1 else f"{v:.2f}s"


def _n(v: Any, fmt: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, fmt)


@opt.app.command("tune")
def tune_cmd(
    scenario: Annotated[
        str, typer.Argument(help="Scenario file or name in workloads/scenarios/.")
    ] = "default",
    device: Annotated[
        str | None, typer.Option("--device", "-d", help="Device (default: the scenario's).")
    ] = None,
    cards: Annotated[int, typer.Option("--cards", "-n", help="Card budget to deploy.")] = 0,
    slo: Annotated[
        str | None,
        typer.Option("--slo", help="e.g. ttft_p99=2s,tpot_p99=100ms (default: the scenario's)."),
    ] = None,
    objective: Annotated[
        str, typer.Option("--objective", help="goodput, usd_per_mtok or throughput.")
    ] = "goodput",
    top_k: Annotated[
        int, typer.Option("--top-k", "-k", help="Candidates the simulator confirms.")
    ] = 4,
    batched_tokens: Annotated[
        str, typer.Option("--batched-tokens", help="Scheduler max_batched_tokens grid.")
    ] = "2048,8192",
    max_seqs: Annotated[
        str, typer.Option("--max-seqs", help="Scheduler max_seqs grid.")
    ] = "64,256",
    no_disagg: Annotated[
        bool, typer.Option("--no-disagg", help="Skip disaggregated prefill/decode pools.")
    ] = False,
    executor: Annotated[
        str, typer.Option("--executor", "-e", help="local (process pool) or ray.")
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", help="Parallel workers (default: CPU count; 0: serial)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Search seed (points derive theirs).")] = 0,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Keep both stages' results here (a rerun reuses them)."),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Rows of evidence to print.")] = 8,
    emit: EmitOpt = None,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
    json_: opt.JsonOpt = False,
) -> None:
    """Search plans (TP/EP/DP attention, P/D pools, scheduler limits) for a card budget:
    the analytic model prunes, the simulator confirms; prints the best with its evidence."""
    if cards < 1:
        raise AccelsimError("--cards: give the card budget (a positive whole number)")
    check_emit(emit)
    opt.check_executor(executor, workers)
    bar = bars.progress_bar(TextColumn("[bold]{task.description}[/]"), MofNCompleteColumn())
    with bar:
        result = tune(
            scenario,
            device=device,
            cards=cards,
            slo=slo,
            objective=objective,
            top_k=top_k,
            catalog=catalog,
            overrides=set_,
            executor=executor,
            workers=workers,
            seed=seed,
            batched_tokens=_ints(batched_tokens, "--batched-tokens"),
            max_seqs=_ints(max_seqs, "--max-seqs"),
            disaggregation=not no_disagg,
            out_dir=out,
            progress=lambda stage: _StageProgress(bar, stage),
            launch=emit,
        )
    marks = opt.open_catalog(catalog, set_)
    if emit is not None:
        if result.best is None:
            raise AccelsimError(
                f"--emit {emit}: no plan of {result.device} on {cards} cards fits in memory "
                f"and can be launched by {emit} (see the pruned candidates' reasons)"
            )
        print_recipe(result.best_scenario(), emit, marks)
        return
    if json_:
        opt.emit_json(result.as_dict(), marks)
        return
    _render(result, show)
    opt.print_overrides(marks)


def _render(r: Any, show: int) -> None:
    c = r.counts
    slo = ", ".join(f"{k} <= {_s(v)}" for k, v in r.slo.items()) or "none"
    opt.console.print(
        f"[bold]tune[/] {r.model} on {r.cards} x {r.device} ({r.scenario}): "
        f"{c['candidates']} candidates — {c['pruned']} pruned (memory), "
        f"{c['analytic'] + c['simulated']} scored analytically, {c['simulated']} simulated; "
        f"objective {r.objective}, SLOs {slo}; {r.elapsed_s:.1f} s",
        highlight=False,
    )
    if r.best is None:
        opt.console.print(f"[red]no plan of {r.device} fits {r.cards} cards[/]")
        return
    b = r.best
    verdict = "[green]meets the SLOs[/]" if r.meets_slo else "[red]misses the SLOs[/]"
    opt.console.print(
        f"best: [bold]{b['plan']}[/] max_batched_tokens={b['max_batched_tokens']} "
        f"max_seqs={b['max_seqs']} — {verdict} (margin {_n(b.get('sim_slo_margin'), '.2f')})",
        highlight=False,
    )
    t = Table(title="Simulated candidates, best first (p99s: simulated / analytic)")
    cols = ["#", "plan", "mbt", "seqs", "TTFT p99", "TPOT p99", "goodput/s", "$/Mtok", "SLO"]
    for col in cols:
        if col == "plan":
            t.add_column(col, overflow="fold")
        else:
            t.add_column(col, justify="right", no_wrap=col != "SLO")
    for row in r.top(show):
        t.add_row(
            str(row.get("rank", "-")),
            row["plan"],
            str(row["max_batched_tokens"]),
            str(row["max_seqs"]),
            f"{_s(row.get('sim_ttft_p99'))}/{_s(row.get('analytic_ttft_p99'))}",
            f"{_s(row.get('sim_tpot_p99'))}/{_s(row.get('analytic_tpot_p99'))}",
            _n(row.get("sim_goodput_requests_per_s")),
            _n(row.get("sim_usd_per_mtok")),
            "ok" if row.get("sim_meets_slo") else (row.get("reason") or "miss"),
        )
    opt.console.print(t)
    rest = [row for row in r.evidence if row["stage"] != "simulated"][:show]
    if rest:
        et = Table(
            title=f"Other evidence (first {len(rest)} of {c['candidates'] - c['simulated']})"
        )
        for col in ("plan", "mbt", "seqs", "p99 TTFT est", "p99 TPOT est", "why not"):
            if col in ("plan", "why not"):
                et.add_column(col, overflow="fold")
            else:
                et.add_column(col, justify="right", no_wrap=True)
        for row in rest:
            et.add_row(
                row["plan"],
                str(row["max_batched_tokens"]),
                str(row["max_seqs"]),
                _s(row.get("analytic_ttft_p99")),
                _s(row.get("analytic_tpot_p99")),
                row.get("reason") or "",
            )
        opt.console.print(et)
