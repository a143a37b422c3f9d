"""The validation error table, the fit of the shared routing parameter, and what-ifs.

Run: ``python benchmarks/bench_validation.py``. Prints measured vs predicted for every active
case (fixed-batch cases with their bound and top ops, serving cases with the simulated TTFT,
TPOT, MFU, MBU, preemptions and peak KV use), median/max absolute error overall, per mode, per
split (fit/check) and per device, the wall time of the whole validation. For
serving cases that carry the published mean TPOT (``reported``), a decomposition table splits
the error into the decode batch the simulated scheduler forms and the decode iteration time,
each against what the source implies (``CaseResult.decomposition``, Little's law). For cases
with a separate draft model (``spec.draft_model``), a last table shows the draft's weights and
KV bytes per token on one rank of the decode pool and its share of one decode iteration at the
simulated mean batch (context: prompt plus half the output), next to the generic estimate the
timing model uses without a draft model. The decomposition's ``step@src`` column prices one
decode iteration of the decode pool at the *source's* batch (its Little's-law sequences per
replica, context prompt plus half the output) with the scenario's own timing model and divides
it by the source's iteration: it judges the iteration model apart from the scheduler. The last
lines refit every fitted number of the registry (``accelsim.validate.calibrate.CALIBRATED``: the
production routing drift, the SGLang-on-Ascend cost, the A100 dequant fractions) next to its
shipped value. The very last lines time ``accelsim validate`` (``run_validation``: target
<= 30 s on 2 cores) and ``accelsim validate --cv`` (``cross_validate`` after it,
leave-one-source-out with every refit: target <= 5 min on 2 cores) and print the
cross-validated median/max.
"""

from __future__ import annotations

import time
from dataclasses import replace

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import BYTES
from accelsim.model.batch import BatchStats
from accelsim.run.resolve import deploy
from accelsim.run.timing import perf_model_from_catalog
from accelsim.validate.calibrate import calibrations
from accelsim.validate.crossval import cross_validate
from accelsim.validate.predict import run_validation


def draft_table(cat, rep) -> None:
    """Draft model memory per rank and draft time per decode iteration, model vs generic."""
    print()
    print(
        f"{'case with a draft model':40s} {'draft':24s} {'GB/rank':>7s} {'KV B/tok':>8s} "
        f"{'draft ms':>8s} {'generic':>7s} {'of iter':>8s}"
    )
    for r in rep.results:
        spec, sc = r.case.spec, r.case.scenario
        if spec is None or spec.draft_model is None or sc is None or r.decode_seqs_mean is None:
            continue
        dep = deploy(sc, cat)
        sc, prec = dep.scenario, dep.precision
        plan = (dep.decode or dep.main).plan
        draft = cat.model(spec.draft_model)
        lengths = sc.traffic_spec.lengths
        batch = BatchStats.decode(
            max(1, round(r.decode_seqs_mean / plan.replicas)),
            float(lengths.prompt) + float(lengths.output) / 2,
        )
        times = []
        for s in (spec, replace(spec, draft_model=None)):
            pm = perf_model_from_catalog(
                cat, sc.model, sc.device, plan, prec, spec=s, server=sc.server
            )
            st = pm.step(batch)
            times.append((st.times["draft"], st.total_s))
        kv_split = min(plan.tp, draft.attention.num_kv_heads or 1)
        gb = draft.total_params * BYTES[draft.draft.weight_dtype] / plan.tp / 1e9
        print(
            f"{r.case.id:40s} {draft.name:24s} {gb:7.3f} "
            f"{draft.kv_bytes_per_token(prec.kv_bytes) / kv_split:8.0f} "
            f"{times[0][0] * 1e3:7.2f}  {times[1][0] * 1e3:6.2f}  {times[0][1] * 1e3:6.1f}ms"
        )


def step_at_source(cat, r, d) -> float:
    """The decode pool's iteration at the source's batch over the source's iteration."""
    dep = deploy(r.case.scenario, cat)
    pool = dep.decode or dep.main
    lengths = dep.scenario.traffic_spec.lengths
    batch = BatchStats.decode(
        max(1, round(d["src_decode_seqs"] / pool.plan.replicas)),
        float(lengths.prompt) + float(lengths.output) / 2,
    )
    return pool.perf.iteration_time(batch) / d["src_iteration_s"]


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
            s = r.summary
            assert s is not None
            nan = float("nan")
            kv_peak = s.kv_utilization.peak if s.kv_utilization is not None else nan
            detail = (
                f"TTFT {s.ttft_s.mean:.3g} s, TPOT {s.tpot_s.mean * 1e3:.3g} ms, "
                f"MFU {s.mfu if s.mfu is not None else nan:.2f}, "
                f"MBU {s.mbu if s.mbu is not None else nan:.2f}, "
                f"{s.arrived} requests, {s.preemptions} preempted, KV peak {kv_peak:.0%}"
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
        f"{'iter sim':>8s} {'src':>7s} {'ratio':>5s} {'TTFT sim':>8s} {'src':>6s} "
        f"{'step@src':>8s}"
    )
    for r in rep.results:
        d = r.decomposition()
        if "batch_ratio" not in d:
            continue
        print(
            f"{r.case.id:40s} {r.error_pct:+6.1f}% {d['decode_seqs']:8.1f} "
            f"{d['src_decode_seqs']:7.1f} {d['batch_ratio']:5.2f} {d['iteration_s'] * 1e3:6.1f}ms "
            f"{d['src_iteration_s'] * 1e3:5.1f}ms {d['iteration_ratio']:5.2f} "
            f"{d['ttft_s']:7.2f}s {d.get('src_ttft_s', float('nan')):5.2f}s "
            f"{step_at_source(cat, r, d):8.2f}"
        )
    draft_table(cat, rep)
    for c in rep.pending:
        print(f"pending {c.id}: {c.reason}")
    print(f"skipped: {len(rep.skipped)}")
    for row in calibrations(cat):
        print(
            f"{row['key']}: shipped {row['shipped']:.4g}, refit {row['refit']:.4g} on "
            f"{', '.join(row['fit_cases'])}"
        )
    fresh = load_catalog()
    t0 = time.perf_counter()
    rep2 = run_validation(fresh)
    t_fit = time.perf_counter() - t0
    cv = cross_validate(fresh, report=rep2)
    t_cv = time.perf_counter() - t0
    print()
    print(f"{'command':28s} {'wall':>8s} {'target':>8s} {'median':>8s} {'max':>8s}")
    print(
        f"{'accelsim validate':28s} {t_fit:7.1f}s {30:7d}s {rep2.median_abs_error_pct:7.1f}% "
        f"{rep2.max_abs_error_pct:7.1f}%"
    )
    print(
        f"{'accelsim validate --cv':28s} {t_cv:7.1f}s {300:7d}s {cv.median_abs_error_pct:7.1f}% "
        f"{cv.max_abs_error_pct:7.1f}%"
    )


if __name__ == "__main__":
    main()
