"""Speed of one StepTime evaluation, and of one priced mixed iteration of the simulator
(printed, never asserted).

Run: ``python benchmarks/bench_perf.py``. Target: one DeepSeek-V3 (61 layers) step < 1 ms after
warm-up, because the serving simulator prices every iteration with it.

The second table prices a stream of mixed prefill + decode shapes the way the simulator's
iteration cache does on a miss (``PerfModel.shape_work``, every shape new: chunked prefill
under a 512-token budget, filled in 85 % of the iterations as on the Vidur workload of
``bench_engine``, up to 128 decode sequences, random contexts), with the layers'
token-only part from its table (``accelsim.model.perf.layer_table``) and with the table off
(the full layer loop, as before issue 18's tabulation); the figures are the same floats.
Measured (2-core machine shared with six other jobs, load average 4-5, 2026-12-03; CPU
microseconds per shape, best of three): Llama-2-70B TP4 34.6 -> 25.1, DeepSeek-V3 TP8 EP8
67.3 -> 38.7, DeepSeek-V4-Flash TP8 182.9 -> 110.4. On the Vidur workload's own stream of
23k priced shapes (10k requests) a shape costs 30-43 us before the table (and the lighter
``Group``, ``LeanOps`` and ``shape_work`` of the same change) and 18.5 us after.
Its third column is the shape table (``accelsim.model.perf.shape_table``, the default since
wave 5: every op but the attention and the draft passes kept per exact token counts, the
attention in closed form, ``Attention.lean``; the same floats). Measured (same 2-core machine,
load average 5, 2026-12-03 17:35 UTC; CPU us per shape, full loop / layer table / shape
table): Llama-2-70B TP4 26.9 / 23.8 / 16.6, DeepSeek-V3 TP8 EP8 63.9 / 35.1 / 24.9,
DeepSeek-V4-Flash 208.4 / 134.3 / 111.3 (its sparse and compressed attention keeps its own
``add``: only the token-only part is saved). A fourth table replays the iteration-cache
lookups of the Vidur workload at 10k requests (50,504 lookups, 23,518 priced shapes; 4,062
token keys, 2,611 of them met once): the whole stream 956 -> 593 ms CPU, per priced shape
40.7 -> 25.2 us of stream (the cache's own lookups included). On that stream, in one process:
a new token key costs about 26 us (its record), a shape whose key is known about 3-5 us
(about a fifth of the layer table's ``_work``), and callgrind counts 2.8x fewer instructions
per priced shape (164k -> 59k, first 6,000 shapes); the cache's lookups with a trivial model
cost 3.45 -> 2.93 us each (``quantize`` inlined).

The third table prices the routed experts (``MoE.routed``) of new replica token counts, each
count alone against the blocked memo (``accelsim.model.perf.moe``: counts priced in blocks,
vectorised, the same floats). Measured (same machine and load, 2026-12-03, CPU us per new
count; "before" is the per-count path before blocks): default scenario (910B2 EP32, uniform)
dense 202-239 -> 10-15, sparse 204-236 -> 128-165; H800 EP72 + 32 redundant (production
routing) 411-432 -> 140-300. The first table's ``step() varying`` of DeepSeek-V3 EP72 went
258-350 -> 158-177 us, Qwen3-235B 305-418 -> 171-203 us.

Wave 6 (2026-12-03, 2-core machine shared with six helpers, load 1-6; CPU, paired before/after
replays of recorded iteration-cache lookups): on a model with MoE layers a shape record takes
the layers' token-only part per token count (``LayerTable.token_rest_for``) and prices only the
MoE layers' routed part (``Layer.add_routed``), so a new token key is priced through a record
(not kept until the key comes back) instead of the full loop, and kinds sharing an attention
price it once. The default scenario's traffic (DeepSeek-V3, 910B2 TP4 DP8 EP32) on 2 replicas
at 50k requests, 97,223 lookups, 42,355 priced shapes: 2.60-2.96 -> 2.09-2.23 s, about 65 ->
51 us per priced shape (the routing model's one-off set-up included); the Vidur stream above
382-405 -> 356-369 ms. ``bench_engine million2`` (1M requests, 2 replicas): 142.3 -> 96.8 s
CPU, peak RSS 337 -> 333 MiB (one run each, not interleaved, load 3-6); the same figures and
model calls (732,411). The cache's hit path is unchanged.
"""

from __future__ import annotations

import gzip
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.plan import ParallelPlan
from accelsim.run.timing import perf_model_from_catalog
from accelsim.sim.iteration_cache import quantize
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
    mixed_iterations(cat)
    routed_counts(cat)


def routed_counts(cat) -> None:
    """CPU microseconds per new replica token count of the routed experts (``MoE.routed``):
    each count priced alone (``MoE._routed_many`` of one count: what a count met once costs)
    against the blocked memo on a dense stream (every count 1..4096, as a run's prefill and
    decode batches reach them) and a sparse one (every 97th count up to 32k)."""
    cases = [
        ("dsv3 910b2 TP4 DP8 EP32 (default scenario)", "deepseek-v3", "ascend-910b2",
         ParallelPlan(tp=4, dp=8, ep=32), "int8", "uniform"),
        ("dsv3 h800 EP72 +32 redundant (production)", "deepseek-v3", "h800",
         ParallelPlan(tp=1, dp=72, ep=72, redundant_experts=32), "fp8", "production"),
    ]  # fmt: skip
    head = f"{'routed experts, new token counts':42s} {'alone':>14s} {'dense':>15s}"
    print(f"\n{head} {'sparse':>10s}")
    for label, model, device, plan, dtype, profile in cases:
        routing = routing_model(cat, profile)
        cols = []
        for alone, counts in (
            (True, range(1, 257)),
            (False, range(1, 4097)),
            (False, range(1, 32769, 97)),
        ):
            best = float("inf")
            for _ in range(2):
                pm = perf_model_from_catalog(
                    cat, model, device, plan, precision(dtype), routing=routing
                )
                moe = pm.layer.moe
                t0 = time.process_time()
                for t in counts:
                    if alone:
                        moe._routed_many(np.array([float(t)]))
                    else:
                        moe.routed(float(t))
                best = min(best, (time.process_time() - t0) / len(counts))
            cols.append(best * 1e6)
        print(f"{label:42s} {cols[0]:11.1f} us {cols[1]:12.1f} us {cols[2]:7.1f} us")


def _mixed_shapes(count: int) -> list[tuple[int, float, int, int, float, float]]:
    """Mixed shapes as the simulator's cache prices them on a miss, its sums quantized
    (seeded, so both columns price the same stream)."""
    rng = random.Random(0)
    out = []
    for _ in range(count):
        n = rng.randint(1, 128)
        chunks = rng.randint(1, 3)
        # most mixed iterations fill the token budget (the tail of a prefill does not)
        ptok = 512 - n if rng.random() < 0.85 else rng.randint(chunks, 512 - n)
        prior = rng.choice((0, 0, rng.randint(1, 3000)))
        pairs = quantize(ptok * (prior + (ptok / chunks + 1) / 2))
        ctx = quantize(n * rng.randint(100, 4000))
        out.append((n, float(ctx), chunks, quantize(ptok), float(pairs), float(quantize(prior))))
    return out


def mixed_iterations(cat) -> None:
    """CPU microseconds per priced mixed iteration: the full layer loop, the layers tabulated
    (``LayerTable``) and the shape table (``ShapeTable``, the default) — CPU time: a shared
    machine's load stretches wall time; best of three interleaved runs."""
    shapes = _mixed_shapes(20_000)
    cases = [
        ("llama-2-70b a100 TP4 (vidur workload)", "llama-2-70b", "a100-sxm4-80gb",
         ParallelPlan(tp=4), "fp16"),
        ("dsv3 h800 TP8 EP8 (MoE, MLA)", "deepseek-v3", "h800", ParallelPlan(tp=8, ep=8), "fp8"),
        ("dsv4-flash h200 TP8 (compressed)", "deepseek-v4-flash", "h200", ParallelPlan(tp=8),
         "fp8"),
    ]  # fmt: skip
    head = f"{'mixed iteration, all shapes new':42s} {'full loop':>14s} {'layer table':>15s}"
    print(f"\n{head} {'shape table':>15s}")
    for label, model, device, plan, dtype in cases:
        cols = [float("inf")] * 3
        for _ in range(3):
            for col in (0, 1, 2):
                pm = perf_model_from_catalog(cat, model, device, plan, precision(dtype))
                if col < 2:
                    pm._shapes = None  # the layer table's path (``PerfModel._work``)
                if col == 0:
                    pm._table = None  # the full layer loop
                t0 = time.process_time()
                for shape in shapes:
                    pm.shape_work(*shape)
                cols[col] = min(cols[col], (time.process_time() - t0) / len(shapes))
        us = [c * 1e6 for c in cols]
        print(f"{label:42s} {us[0]:11.1f} us {us[1]:12.1f} us {us[2]:12.1f} us")
    vidur_stream(cat)


def _vidur_lookups(requests: int) -> list[tuple]:
    """The iteration-cache lookups (``decode_time`` / ``time`` arguments) of one simulation of
    ``bench_engine``'s Vidur workload at ``requests`` requests, in order."""
    from accelsim.catalog.loader import load_catalog
    from accelsim.run.resolve import deploy, file_resolver, load_scenario
    from accelsim.sim.engine import Pool, simulate
    from accelsim.sim.iteration_cache import IterationCache
    from accelsim.sim.traffic import generate

    calls: list[tuple] = []
    real_decode, real_time = IterationCache.decode_time, IterationCache.time

    def decode_time(self, n, ctx):
        calls.append((n, ctx))
        return real_decode(self, n, ctx)

    def mixed_time(self, *shape):
        calls.append(shape)
        return real_time(self, *shape)

    data = Path(__file__).resolve().parent / "data" / "vidur"
    with tempfile.TemporaryDirectory(prefix="accelsim-bench-perf-") as work:
        stream = Path(work) / "stream.csv"
        with gzip.open(data / "vidur_stream_50k.csv.gz", "rb") as src, open(stream, "wb") as dst:
            shutil.copyfileobj(src, dst)
        text = (data / "vidur-llama70b-tp4.yaml").read_text().replace("STREAM_CSV", str(stream))
        scenario = Path(work) / "vidur.yaml"
        scenario.write_text(text.replace("requests: 10000", f"requests: {requests}"))
        cat = load_catalog()
        dep = deploy(load_scenario(str(scenario), cat, []), cat)
        sc, p = dep.scenario, dep.pools[0]
        pool = Pool(p.perf, p.plan.replicas, p.kv_tokens, p.kv_tokens_per_seq,
                    p.cards_per_replica, p.scheduler)  # fmt: skip
        seeds = np.random.SeedSequence(sc.seed).spawn(2)
        req = generate(sc.traffic_spec, np.random.default_rng(seeds[0]), file_resolver(cat))
        IterationCache.decode_time, IterationCache.time = decode_time, mixed_time
        try:
            simulate(req, pool, router=sc.router, seed=np.random.default_rng(seeds[1]))
        finally:
            IterationCache.decode_time, IterationCache.time = real_decode, real_time
    return calls


def vidur_stream(cat) -> None:
    """The iteration cache (``accelsim.sim.iteration_cache``) over the lookups of the Vidur
    workload of ``bench_engine`` at 10k requests (recorded from one simulation, then replayed
    alone): CPU ms for the whole stream and us per priced shape (a cache miss), through the
    layer table's path (``ShapeTable`` off) and the default (best of three)."""
    from accelsim.sim.iteration_cache import IterationCache

    calls = _vidur_lookups(10_000)
    head = f"vidur 10k: {len(calls)} cache lookups"
    print(f"\n{head:42s} {'stream':>14s} {'stream/miss':>15s}")
    for label, shapes_on in (("layer table (shape table off)", False), ("shape table", True)):
        best, misses = float("inf"), 0
        for _ in range(3):
            pm = perf_model_from_catalog(
                cat, "llama-2-70b", "a100-sxm4-80gb", ParallelPlan(tp=4), precision("fp16")
            )
            if not shapes_on:
                pm._shapes = None
            cache = IterationCache(pm)
            t0 = time.process_time()
            for c in calls:
                if len(c) == 2:
                    cache.decode_time(*c)
                else:
                    cache.time(*c)
            best = min(best, time.process_time() - t0)
            misses = cache.calls
        per = best / misses * 1e6
        print(f"{label:42s} {best * 1e3:11.1f} ms {per:12.1f} us  ({misses} misses)")


if __name__ == "__main__":
    main()
