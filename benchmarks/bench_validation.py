"""The validation error table, the fit of the shared routing parameter, and what-ifs.

Run: ``python benchmarks/bench_validation.py``. Prints measured vs predicted for every active
case, median/max absolute error overall, per split (fit/check) and per device, then refits the
production-routing drift on the fit cases to show it reproduces ``PRODUCTION_DRIFT``.
"""

from __future__ import annotations

from accelsim.catalog import load_catalog
from accelsim.validate import PRODUCTION_DRIFT, fit_production_drift, run_validation


def main() -> None:
    cat = load_catalog()
    rep = run_validation(cat)
    print(
        f"{'case':42s} {'split':5s} {'measured':>10s} {'predicted':>10s} {'error':>8s}  "
        "bound  top ops"
    )
    for r in rep.results:
        c, st = r.case, r.step
        top = sorted(st.times.items(), key=lambda kv: -kv[1])[:3]
        ops = ", ".join(f"{k} {v / st.total_s:.0%}" for k, v in top)
        print(
            f"{c.id:42s} {c.split:5s} {c.measured:10.4g} {r.predicted:10.4g} "
            f"{r.error_pct:+7.1f}%  {st.bound:7s} {ops}"
        )
    print()
    print(
        f"all: n={len(rep.results)} median |err| {rep.median_abs_error_pct:.1f}% "
        f"max |err| {rep.max_abs_error_pct:.1f}%"
    )
    for name, groups in (("split", rep.by("split")), ("device", rep.by("device"))):
        for k, v in groups.items():
            print(
                f"  {name} {k:16s} n={v['n']:2d} median {v['median_abs_error_pct']:5.1f}% "
                f"max {v['max_abs_error_pct']:5.1f}%"
            )
    print(f"pending (serving): {len(rep.pending)}; skipped: {len(rep.skipped)}")
    print(
        f"production drift: shipped {PRODUCTION_DRIFT}, refit on fit cases "
        f"{fit_production_drift(cat)}"
    )


if __name__ == "__main__":
    main()
