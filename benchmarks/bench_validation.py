"""The validation error table, the fit of the shared routing parameter, and what-ifs.

Run: ``python benchmarks/bench_validation.py``. Prints measured vs predicted for every active
case (fixed-batch cases with their bound and top ops, serving cases with the simulated TTFT,
TPOT, MFU, MBU, preemptions and peak KV use), median/max absolute error overall, per mode, per
split (fit/check) and per device, the wall time of the whole validation, then refits the
production-routing drift on the fit cases to show it reproduces ``PRODUCTION_DRIFT``. For
serving cases that carry the published mean TPOT (``reported``), a decomposition table splits
the error into the decode batch the simulated scheduler forms and the decode iteration time,
each against what the source implies (``CaseResult.decomposition``, Little's law).
"""

from __future__ import annotations

import time

from accelsim.catalog import load_catalog
from accelsim.validate import PRODUCTION_DRIFT, fit_production_drift, run_validation


def main() -> None:
    cat = load_catalog()
    t0 = time.perf_counter()
    rep = run_validation(cat)
    wall = time.perf_counter() - t0
    print(
        f"{'case':44s} {'mode':7s} {'split':5s} {'measured':>10s} {'predicted':>10s} "
        f"{'error':>8s}  detail"
    )
    for r in rep.results:
        c, st = r.case, r.step
        if st is not None:
            top = sorted(st.times.items(), key=lambda kv: -kv[1])[:3]
            detail = f"{st.bound:7s} " + ", ".join(f"{k} {v / st.total_s:.0%}" for k, v in top)
        else:
            s = r.summary or {}
            detail = (
                f"TTFT {s['ttft_s']['mean']:.3g} s, TPOT {s['tpot_s']['mean'] * 1e3:.3g} ms, "
                f"MFU {s.get('mfu', float('nan')):.2f}, MBU {s.get('mbu', float('nan')):.2f}, "
                f"{s['arrived']} requests, {s['preemptions']} preempted, "
                f"KV peak {s.get('kv_utilization', {}).get('peak', float('nan')):.0%}"
            )
        print(
            f"{c.id:44s} {c.mode:7s} {c.split:5s} {c.measured:10.4g} {r.predicted:10.4g} "
            f"{r.error_pct:+7.1f}%  {detail}"
        )
    print()
    print(
        f"all: n={len(rep.results)} median |err| {rep.median_abs_error_pct:.1f}% "
        f"max |err| {rep.max_abs_error_pct:.1f}%  (run_validation wall {wall:.1f} s)"
    )
    for name in ("mode", "split", "device"):
        for k, v in rep.by(name).items():
            print(
                f"  {name} {k:16s} n={v['n']:2d} median {v['median_abs_error_pct']:5.1f}% "
                f"max {v['max_abs_error_pct']:5.1f}%"
            )
    print()
    print(
        f"{'serving case':40s} {'error':>7s} {'seqs sim':>8s} {'src':>7s} {'ratio':>5s} "
        f"{'iter sim':>8s} {'src':>7s} {'ratio':>5s} {'TTFT sim':>8s} {'src':>6s}"
    )
    for r in rep.results:
        d = r.decomposition()
        if "batch_ratio" not in d:
            continue
        print(
            f"{r.case.id:40s} {r.error_pct:+6.1f}% {d['decode_seqs']:8.1f} "
            f"{d['src_decode_seqs']:7.1f} {d['batch_ratio']:5.2f} {d['iteration_s'] * 1e3:6.1f}ms "
            f"{d['src_iteration_s'] * 1e3:5.1f}ms {d['iteration_ratio']:5.2f} "
            f"{d['ttft_s']:7.2f}s {d.get('src_ttft_s', float('nan')):5.2f}s"
        )
    for c in rep.pending:
        print(f"pending {c.id}: {c.reason}")
    print(f"skipped: {len(rep.skipped)}")
    print(
        f"production drift: shipped {PRODUCTION_DRIFT}, refit on fit cases "
        f"{fit_production_drift(cat)}"
    )


if __name__ == "__main__":
    main()
