"""Scale: a 10,000-card cluster serving 1,000,000 requests in one simulation (printed, never
asserted).

The cluster: 1,248 nodes of 8 Ascend 910B2 cards (9,984 cards; 1,250 nodes would leave two nodes
short of a 32-card replica) running DeepSeek-V3 at W8A8 as 312 replicas of
``tp=4,dp=8,ep=32`` (the default scenario's wide-EP replica). Traffic: 1,000,000 synthetic
chat requests (``chat-poisson`` lengths: lognormal, prompt median 1,020, output median 129),
Poisson arrivals at ``--per-replica`` requests/s per replica (default 4/s, a little under the
default scenario's 5/s for one such replica; the p99s are printed to show the load, not as a
target).

Measured (2-core container shared with other jobs, one run, issue 18): 1,000,000 requests on
9,984 cards in 42.7 s wall before issue 18's speed work (the 92 s quoted here earlier predated
the renovation); rerun to print today's figure — the engine benchmark
(``benchmarks/bench_engine.py``) carries the issue's before/after table.

Each size runs in a fresh subprocess, so its peak RSS (``resource.getrusage``: the process's
high-water mark, including the catalog and the request table) is its own. ``--requests`` and
``--replicas`` scale the run down (``--sizes`` runs a ladder, to see how time and memory grow).

    .venv/bin/python benchmarks/bench_scale.py                      # the 10k-card, 1M case
    .venv/bin/python benchmarks/bench_scale.py --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

PLAN = "tp=4,dp=8,ep=32"
CARDS_PER_REPLICA = 32


def case(requests: int, replicas: int, per_replica: float) -> dict:
    from accelsim.catalog.loader import load_catalog
    from accelsim.run.resolve import load_scenario
    from accelsim.run.simulate import run_scenario

    cat = load_catalog()
    t0 = time.perf_counter()
    sc = load_scenario(
        "default",
        cat,
        [
            f"cards={replicas * CARDS_PER_REPLICA}",
            f"plan={PLAN},replicas={replicas}",
            f"traffic.rate={per_replica * replicas}/s",
            f"traffic.requests={requests}",
            "traffic.duration=null",
        ],
    )
    setup = time.perf_counter() - t0
    res = run_scenario(sc, cat)
    wall = time.perf_counter() - t0
    s = res.summary
    return {
        "requests": s.arrived,
        "completed": s.completed,
        "rejected": s.rejected,
        "replicas": replicas,
        "cards": sc.cards,
        "wall_s": wall,
        "setup_s": setup,
        "sim_wall_s": s.wall_s,
        "model_calls": s.iteration_model_calls,
        "sim_duration_s": s.duration_s,
        "ttft_p99_s": s.ttft_s.p99,
        "tpot_p99_s": s.tpot_s.p99,
        "out_tok_s": s.throughput.output_tokens_per_s,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--sizes", default=None, help="comma-separated request counts (a ladder)")
    ap.add_argument("--replicas", type=int, default=312)
    ap.add_argument("--per-replica", type=float, default=4.0, help="requests/s per replica")
    ap.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        out = case(int(args.case), args.replicas, args.per_replica)
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else [args.requests]
    cards = args.replicas * CARDS_PER_REPLICA
    print(
        f"# bench_scale: DeepSeek-V3 int8 on {cards} x ascend-910b2 ({cards // 8} nodes), "
        f"{args.replicas} replicas of {PLAN}, {args.per_replica:g} req/s per replica"
    )
    head = (
        f"{'requests':>9} {'cards':>6} {'wall s':>8} {'req/s':>8} {'peak RSS MiB':>13} "
        f"{'sim s':>7} {'p99 TTFT':>9} {'p99 TPOT':>9} {'rejected':>8}"
    )
    print(head)
    for n in sizes:
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                f"--case={n}",
                f"--replicas={args.replicas}",
                f"--per-replica={args.per_replica}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            print(f"{n:>9} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{r['requests']:>9} {r['cards']:>6} {r['wall_s']:>8.1f} "
            f"{r['requests'] / r['wall_s']:>8.0f} {r['peak_rss_mib']:>13.0f} "
            f"{r['sim_duration_s']:>7.0f} {r['ttft_p99_s']:>9.3f} {r['tpot_p99_s']:>9.4f} "
            f"{r['rejected']:>8}"
        )
        print(f"  {r}")


if __name__ == "__main__":
    main()
