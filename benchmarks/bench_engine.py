"""Engine speed and memory: printed, never asserted.

Cases (each runs in a fresh subprocess so its peak RSS is its own):

- ``azure``: the whole Azure 2023 conversation trace (19,366 requests) on DeepSeek-V3 served by
  one wide-EP replica (``workloads/scenarios/azure-conv-deepseek-v3.yaml``); target <= 10 s.
- ``million``: 1,000,000 synthetic chat requests (Poisson, lognormal lengths) over 64 replicas
  of the same DeepSeek-V3 plan; target <= 120 s and <= 2 GB peak RSS.

Reference: Vidur simulated 10k requests in 23.6 s (about 550 requests/s).

    .venv/bin/python benchmarks/bench_engine.py [azure|million|all]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def case_azure() -> dict:
    from accelsim.catalog.loader import load_catalog
    from accelsim.run.resolve import load_scenario
    from accelsim.run.simulate import run_scenario

    cat = load_catalog()
    t0 = time.perf_counter()
    sc = load_scenario("azure-conv-deepseek-v3", cat)
    res = run_scenario(sc, cat)
    wall = time.perf_counter() - t0
    return {
        "requests": res.summary.arrived,
        "wall_s": wall,
        "sim_wall_s": res.summary.wall_s,
        "model_calls": res.summary.iteration_model_calls,
        "out_tok_s": res.summary.throughput.output_tokens_per_s,
    }


def case_million() -> dict:
    from accelsim.catalog.loader import load_catalog
    from accelsim.run.resolve import load_scenario
    from accelsim.run.simulate import run_scenario

    cat = load_catalog()
    t0 = time.perf_counter()
    sc = load_scenario(
        "default",
        cat,
        [
            "cards=2048",
            "plan=tp=4,dp=8,ep=32,replicas=64",
            "traffic.rate=512/s",
            "traffic.requests=1000000",
            "traffic.duration=null",
        ],
    )
    res = run_scenario(sc, cat)
    wall = time.perf_counter() - t0
    s = res.summary
    return {
        "requests": s.arrived,
        "completed": s.completed,
        "wall_s": wall,
        "sim_wall_s": s.wall_s,
        "model_calls": s.iteration_model_calls,
        "sim_duration_s": s.duration_s,
        "ttft_p50": s.ttft_s.p50,
    }


CASES = {"azure": case_azure, "million": case_million}


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which.startswith("--case="):
        out = CASES[which.split("=", 1)[1]]()
        out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out))
        return
    names = list(CASES) if which == "all" else [which]
    print(f"{'case':10} {'requests':>9} {'wall s':>8} {'req/s':>9} {'peak RSS MiB':>13}")
    for name in names:
        proc = subprocess.run(
            [sys.executable, __file__, f"--case={name}"], capture_output=True, text=True, check=True
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{name:10} {r['requests']:>9} {r['wall_s']:>8.2f} "
            f"{r['requests'] / r['wall_s']:>9.0f} {r['peak_rss_mib']:>13.0f}   {r}"
        )


if __name__ == "__main__":
    main()
