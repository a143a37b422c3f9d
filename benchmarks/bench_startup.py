"""Start-up: whole ``accelsim`` processes that do little work (printed, never asserted).

Issue 18's targets: ``accelsim --help`` <= 0.4 s and ``accelsim step ...`` <= 0.5 s. Each command
runs ``--repeat`` times as a fresh process; with ``--tree DIR`` (repeatable: e.g. a copy of the
package before a change, put first on ``PYTHONPATH``) the trees alternate run by run, so every
tree sees the same load on a shared machine. Printed per tree and command: the median and best
wall time and the median CPU time (user + system, less sensitive than wall time to other jobs),
and which heavy optional packages the command imported (``python -X importtime``: matplotlib,
scipy, pint, pandas).

Measured (2-core machine shared with other jobs, 2026-12-03): ``accelsim --help`` 1.1 s wall
before the lazy command tree, 0.37-0.41 s after (0.25 s CPU; the listing imports no command
module and not the catalog); ``accelsim step ...`` 1.8 s before, 0.85-0.9 s CPU after (pint no
longer imported once its texts are in the conversion cache, the catalog's YAML read from the
parsed-file cache) — above the 0.5 s target: what is left is imports (the catalog's pydantic
schemas about 0.25 s, numpy 0.1 s, typer and rich 0.1 s, the validate and run modules that
``step`` reaches for its prediction interval).

    .venv/bin/python benchmarks/bench_startup.py --repeat 7
    .venv/bin/python benchmarks/bench_startup.py --tree /tmp/before --tree . --repeat 7
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CLI = "from accelsim.cli import main; main()"
COMMANDS = {
    "--help": ["--help"],
    "step": [
        "step",
        "llama-2-70b",
        "-d",
        "a100-sxm4-80gb",
        "--plan",
        "tp=4",
        "--decode-batch",
        "64",
        "--context",
        "2048",
        "--dtype",
        "fp16",
    ],
}
HEAVY = ("matplotlib", "scipy", "pint", "pandas")


def _run(args: list[str], tree: str | None, importtime: bool = False) -> tuple[float, float, str]:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), "-c", CLI, *args]
    t0 = time.perf_counter()
    # from a neutral folder: ``python -c`` puts the working folder ahead of PYTHONPATH
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tempfile.gettempdir()
    )
    err = proc.stderr.read().decode() if proc.stderr else ""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {err.strip()[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tree", action="append", default=None, help="source tree (PYTHONPATH)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    trees: list[str | None] = list(args.tree) if args.tree else [None]
    walls: dict[tuple, list[float]] = {}
    cpus: dict[tuple, list[float]] = {}
    for cmd in COMMANDS.values():
        for tree in trees:
            _run(cmd, tree)  # warm the file cache and the bytecode
    for _ in range(args.repeat):
        for name, cmd in COMMANDS.items():
            for tree in trees:
                wall, cpu, _ = _run(cmd, tree)
                walls.setdefault((tree, name), []).append(wall)
                cpus.setdefault((tree, name), []).append(cpu)
    print(f"{'tree':24} {'command':8} {'median s':>9} {'best s':>7} {'CPU s':>6}  heavy imports")
    for name, cmd in COMMANDS.items():
        for tree in trees:
            _w, _c, err = _run(cmd, tree, importtime=True)
            heavy = [h for h in HEAVY if f" {h}\n" in err or f" {h}." in err]
            w = walls[(tree, name)]
            print(
                f"{(tree or 'this tree')[-24:]:24} {name:8} {statistics.median(w):>9.3f} "
                f"{min(w):>7.3f} {statistics.median(cpus[(tree, name)]):>6.3f}  "
                f"{', '.join(heavy) or '-'}"
            )


if __name__ == "__main__":
    main()
