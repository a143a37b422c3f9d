"""Speed of the cost model: `accelsim tco` with 10,000 Monte Carlo draws (target: < 2 s).

Prints a table; asserts nothing. Run: ``python benchmarks/bench_tco.py``.

- *API*: ``estimate_tco`` + ``monte_carlo(10_000)`` + ``sensitivity()`` in-process, catalog loaded.
- *CLI, in-process*: ``accelsim.cli.main([...])`` with JSON output, catalog loading included.
- *CLI, fresh process*: ``python -m accelsim.cli`` style subprocess, interpreter start and
  imports included (what a user at a shell waits for).
"""

from __future__ import annotations

import contextlib
import io
import statistics
import subprocess
import sys
import time

from accelsim.catalog.loader import load_catalog
from accelsim.cli import main as cli_main
from accelsim.run.pricing import estimate_tco

ARGS = [
    "tco",
    "--device",
    "a100-sxm4-80gb",
    "--cards",
    "1024",
    "--utilization",
    "0.6",
    "--tokens-per-s",
    "500000",
    "--input-tokens-per-s",
    "1500000",
    "--monte-carlo",
    "10000",
    "--seed",
    "1",
    "--json",
]
TARGET_S = 2.0


def _best(fn, repeat: int = 5) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main() -> None:
    def api() -> None:
        r = estimate_tco(
            load_catalog(),
            "a100-sxm4-80gb",
            1024,
            utilization=0.6,
            throughput=5e5,
            input_tokens_per_s=1.5e6,
        )
        r.monte_carlo(10_000, seed=1)
        r.sensitivity()

    def cli() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                cli_main(ARGS)
            except SystemExit as exc:
                if exc.code:
                    raise

    def fresh() -> None:
        code = "import sys; from accelsim.cli import main; main(sys.argv[1:])"
        subprocess.run([sys.executable, "-c", code, *ARGS], check=True, stdout=subprocess.DEVNULL)

    rows = [
        ("API (estimate + 10k MC + sensitivity)", *_best(api)),
        ("CLI in-process, 10k draws, --json", *_best(cli)),
        ("CLI fresh process, 10k draws, --json", *_best(fresh, 3)),
    ]
    print(f"{'case':42} {'best s':>8} {'median s':>9}  target < {TARGET_S:g} s")
    for name, best, med in rows:
        flag = "ok" if med < TARGET_S else "SLOW"
        print(f"{name:42} {best:8.3f} {med:9.3f}  {flag}")


if __name__ == "__main__":
    main()
