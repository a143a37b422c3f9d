"""Speed of one StepTime evaluation (printed, never asserted).

Run: ``python benchmarks/bench_perf.py``. Target: one DeepSeek-V3 (61 layers) step < 1 ms after
warm-up, because the serving simulator prices every iteration with it.
"""

from __future__ import annotations

import time

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.plan import ParallelPlan
from accelsim.run.timing import perf_model_from_catalog
from accelsim.validate.predict import routing_model


def bench(fn, n: int) -> float:
    fn()  # warm-up (routing placement, caches)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    cat = load_catalog()
    rows = []
    cases = [
        (
            "dsv3 decode h800 EP72 b=256/gpu",
            "deepseek-v3",
            "h800",
            ParallelPlan(tp=1, dp=72, ep=72, redundant_experts=32),
            "fp8",
            None,
        ),
        (
            "dsv3 decode h800 EP72 + MTP + overlap",
            "deepseek-v3",
            "h800",
            ParallelPlan(tp=1, dp=72, ep=72, redundant_experts=32, micro_batch_overlap=True),
            "fp8",
            SpecDecode("mtp", 1, 0.8),
        ),
        (
            "qwen3-235b decode h200 TP8",
            "qwen3-235b-a22b",
            "h200",
            ParallelPlan(tp=8, ep=8),
            "fp8",
            None,
        ),
        (
            "llama-2-70b decode a100 TP4",
            "llama-2-70b",
            "a100-sxm4-80gb",
            ParallelPlan(tp=4),
            "fp16",
            None,
        ),
    ]
    for label, model, device, plan, dtype, spec in cases:
        pm = perf_model_from_catalog(
            cat,
            model,
            device,
            plan,
            precision(dtype),
            routing=routing_model(cat, "production"),
            spec=spec,
        )
        seqs = 256 * plan.ranks_per_replica
        fixed = BatchStats.decode(seqs, 2000)
        step_s = bench(lambda pm=pm, b=fixed: pm.step(b), 2000)
        # a serving-like stream of varying batches: new routing token counts each call
        i = [0]

        def varying(pm=pm, seqs=seqs, i=i):
            i[0] += 1
            pm.step(BatchStats.decode(seqs - (i[0] % 997), 1500 + (i[0] * 37) % 3000))

        vary_s = bench(varying, 2000)
        iter_s = bench(lambda pm=pm, b=fixed: pm.iteration_time(b), 20000)
        rows.append((label, step_s, vary_s, iter_s))
    print(f"{'case':42s} {'step() fixed':>14s} {'step() varying':>15s} {'iteration_time':>15s}")
    for label, a, b, c in rows:
        print(f"{label:42s} {a * 1e6:11.1f} us {b * 1e6:12.1f} us {c * 1e6:12.2f} us")


if __name__ == "__main__":
    main()
