"""``accelsim validate``: the published cases predicted, their signed errors, the
cross-validated figures (``--cv``) and the calibrated numbers against their refits
(``--refit``)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.progress import MofNCompleteColumn, TextColumn
from rich.table import Table

import accelsim.cli.options as opt
import accelsim.cli.progress as bars
from accelsim.errors import AccelsimError
from accelsim.validate.calibrate import calibrations
from accelsim.validate.crossval import CrossValidation, cross_validate
from accelsim.validate.intervals import write_intervals
from accelsim.validate.predict import ValidationReport, run_validation


def _styled(err: float) -> str:
    style = "green" if abs(err) <= 15 else "yellow" if abs(err) <= 50 else "red"
    return f"[{style}]{err:+.1f}%[/]"


def _validation_tables(
    rep: ValidationReport, cross: CrossValidation | None, cv_err: dict[str, float] | None
) -> None:
    """The case table and the aggregate table, with the cross-validated columns under --cv."""
    table = Table(title="accelsim validation: predicted vs measured")
    cols = ["case", "mode", "split", "device", "metric", "measured", "predicted", "error"]
    cols += ["CV error"] if cv_err is not None else []
    for col in cols:
        table.add_column(
            col,
            justify="right" if col in ("measured", "predicted", "error", "CV error") else "left",
        )
    for r in rep.results:
        c = r.case
        row = [c.id, c.mode, c.split, c.device, f"{c.metric} [{c.unit}]"]
        row += [f"{c.measured:.4g}", f"{r.predicted:.4g}", _styled(r.error_pct)]
        row += [_styled(cv_err[c.id])] if cv_err is not None else []
        table.add_row(*row)
    opt.console.print(table)
    agg = Table(title="aggregate (absolute error)")
    cols = ["group", "cases", "median", "max"]
    cols += ["CV median", "CV max"] if cross is not None else []
    for col in cols:
        agg.add_column(col, justify="left" if col == "group" else "right")

    def row(name: str, v: Mapping[str, Any], w: Mapping[str, Any] | None, **kw: str) -> None:
        cells = [name, str(v["n"]), f"{v['median_abs_error_pct']:.1f}%"]
        cells += [f"{v['max_abs_error_pct']:.1f}%"]
        if w is not None:
            cells += [f"{w['median_abs_error_pct']:.1f}%", f"{w['max_abs_error_pct']:.1f}%"]
        agg.add_row(*cells, **kw)

    whole = {
        "n": len(rep.results),
        "median_abs_error_pct": rep.median_abs_error_pct,
        "max_abs_error_pct": rep.max_abs_error_pct,
    }
    cv_whole = None
    if cross is not None:
        cv_whole = {
            "median_abs_error_pct": cross.median_abs_error_pct,
            "max_abs_error_pct": cross.max_abs_error_pct,
        }
    row("all", whole, cv_whole, style="bold")
    for title in ("mode", "split", "device"):
        cv_by = cross.by(title) if cross is not None else {}
        for k, v in rep.by(title).items():
            row(f"{title} {k}", v, cv_by.get(k) if cross is not None else None)
    opt.console.print(agg)
    if cross is not None:
        for f in cross.folds:
            if f.priors:
                opt.console.print(
                    f"held out {f.source}: no fit case left for {', '.join(f.priors)}; "
                    "its prior stands in"
                )


@opt.app.command()
def validate(
    file: Annotated[
        str | None, typer.Argument(help="Case file (default: every workloads/validation/*.yaml).")
    ] = None,
    catalog: opt.CatalogOpt = None,
    set_: opt.SetOpt = None,
    json_out: opt.JsonOpt = False,
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
    cv: Annotated[
        bool,
        typer.Option(
            "--cv",
            help="Also cross-validate: predict each case with every calibrated number refit "
            "without the cases of its source (leave-one-source-out; about half a minute).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-w",
            help="With --cv: run the folds on this many parallel workers (0: in this process; "
            "the result is the same byte for byte).",
        ),
    ] = 0,
    executor: Annotated[
        str, typer.Option("--executor", "-e", help="With --workers: local (process pool) or ray.")
    ] = "local",
    write_intervals_: Annotated[
        bool,
        typer.Option(
            "--write-intervals",
            help="With --cv: write the cross-validated residuals and the prediction intervals "
            "to workloads/validation/intervals.yaml of the built-in catalog.",
        ),
    ] = False,
) -> None:
    """Predict every published validation case and print the signed errors."""
    cat = opt.open_catalog(catalog, set_)
    opt.check_executor(executor, workers)
    if workers and not cv:
        raise AccelsimError("--workers needs --cv (it runs the cross-validation folds)")
    if write_intervals_ and not cv:
        raise AccelsimError("--write-intervals needs --cv (the intervals are its residuals)")
    if write_intervals_ and (file is not None or cat.overrides_in_effect() or len(cat.roots) > 1):
        raise AccelsimError(
            "--write-intervals writes the shipped intervals: give no case file, no --set and "
            "no user catalog (--catalog, ACCELSIM_CATALOG)"
        )
    rep = run_validation(cat, file)
    cal = calibrations(cat, file) if refit else None
    cross = None
    if cv:
        with bars.progress_bar(
            TextColumn("[bold]cross-validating[/]"), MofNCompleteColumn(), TextColumn("sources")
        ) as bar:
            task = bar.add_task("cv", total=None)

            def tick(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            cross = cross_validate(
                cat, file, rep, progress=tick, workers=workers, executor=executor
            )
    if cross is not None and write_intervals_:
        path = cat.roots[0] / "workloads" / "validation" / "intervals.yaml"
        write_intervals(cat, cross, path)
        opt.err_console.print(f"wrote {path}")
    cv_err = cross.error_of() if cross is not None else None
    if markdown:
        sys.stdout.write(rep.markdown(cv_err))
        opt.print_overrides(cat)
        return
    if json_out:
        payload = rep.as_dict()
        if cal is not None:
            payload["calibrations"] = cal
        if cross is not None:
            payload["cv"] = cross.as_dict()
        opt.emit_json(payload, cat)
        return
    _validation_tables(rep, cross, cv_err)
    opt.print_overrides(cat)
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
        opt.console.print(ct)
    for c in rep.pending:
        opt.console.print(f"[bold]pending[/] {c.id}: {c.reason}")
    for c in rep.skipped:
        opt.console.print(f"[dim]skipped {c.id}: {c.reason}[/]")
