"""Start-up: whole ``accelsim`` processes that do little work (printed, never asserted).

Issue 18's targets: ``accelsim --help`` <= 0.4 s and ``accelsim step ...`` <= 0.5 s. Each command
runs ``--repeat`` times as a fresh process; with ``--tree DIR`` (repeatable: e.g. a copy of the
package before a change, put first on ``PYTHONPATH``) the trees alternate run by run, so every
tree sees the same load on a shared machine. Printed per tree and command: the median and best
wall time and the median CPU time (user + system, less sensitive than wall time to other jobs),
and which heavy optional packages the command imported (``python -X importtime``: matplotlib,
scipy, pint, pandas, numpy).

Bytecode: by default each tree's modules are compiled once into a private folder and read from
there (``PYTHONPYCACHEPREFIX``), as an installed package reads the bytecode pip compiled;
``--no-bytecode`` compiles every module from source on every run instead (what a shell with
``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` does: about 0.1-0.3 s more per command).

Measured (2-core machine shared with six other jobs, load 2-4, 2026-12-03; "before" is the
tree with issue 18's start-up changes of that day reverted, run interleaved with "after"):

    command               bytecode: CPU s, best wall s   no bytecode: CPU s, best wall s
    --help                0.29 -> 0.26, 0.21             0.25 -> 0.30, 0.25 (noise: same path)
    step (COMMANDS)       0.82 -> 0.61, 0.46             0.97 -> 0.75, 0.59
    run tiny --seeds 1    0.97 -> 0.92, 0.81             1.21 -> 1.17, 1.05

Earlier that day, at load 1.5: ``step`` 0.61 -> 0.47 s CPU (best wall 0.48 s) with bytecode;
0.91 s CPU and 0.84 s median wall without, before any of it. ``step`` no longer imports the
simulator, the validation cases or PyYAML (its interval from ``intervals.yaml`` through the
parsed-file cache), nor pint once its unit texts are cached. ``run`` still imports the sweep
runner and its evaluators through ``accelsim.sweep`` (``sweep/__init__.py``) for its
replications.

    .venv/bin/python benchmarks/bench_startup.py --repeat 7
    .venv/bin/python benchmarks/bench_startup.py --tree /tmp/before --tree . --repeat 7
    .venv/bin/python benchmarks/bench_startup.py --scenario /tmp/vb/v10k.yaml  # + run FILE

Quiet-machine check at the end of the session (2026-12-03 16:10 UTC, load 0.8-1.7), ``--tree``
pairs of the tree at the session's start (``git archive 8dd6cb1``) and this one: ``step``
0.91 -> 0.71 s median wall (CPU 1.02 -> 0.82 s, best 0.56 s), ``--help`` 0.29 -> 0.34 s
(noise: the same code path; best 0.26 s), ``run tiny --seeds 1`` 1.06 -> 1.05 s,
``--repeat 5``. ``step`` stays above 0.5 s.

Second pass (2026-12-03 17:34-17:36 UTC, load 4.3-4.5: six other jobs running tests, so wall
times are about twice the quiet machine's and CPU time compares best), ``--tree`` pairs of the
tree before it and this one, ``--repeat 7``, bytecode:

    command               CPU s            median wall s    best wall s
    --help                0.377 -> 0.328   0.79 -> 0.67     0.40 -> 0.46 (noise: the same path)
    step (COMMANDS)       0.808 -> 0.535   1.44 -> 0.83     1.24 -> 0.72
    run tiny --seeds 1    1.303 -> 0.981   2.55 -> 1.92     1.64 -> 1.49

(Without the garbage-collector change, at load 5.5-6.8: ``step`` 0.763 -> 0.537 s CPU with
bytecode, 0.647 -> 0.446 s without.)

What it took off ``step``: numpy (about 0.08 s: ``model/routing.py`` and ``model/perf/moe.py``
read it through ``accelsim.lazy``, so a dense model never imports it); the catalog's validators
(``catalog/entry_cache.py`` keeps validated entries and the validated intervals file, and the
schemas are built at first validation, so a warm ``step`` builds none: 0.02-0.05 s at that
load); pint's metadata parse (``units.pint_version``); rich's number highlighter on ``step``'s
summary lines (its regular expressions compile on first use, about 0.01 s); the collector's
tracing of the start-up's objects (``accelsim.cli`` pauses it while a command's modules load,
then ``gc.freeze``: GC time 0.06-0.09 -> 0.03-0.045 s at that load). What is left is
third-party imports (pydantic with the catalog's ~30 model classes over a third, typer and rich
a fifth; typer 0.29 also builds a pydantic ``TypeAdapter`` per option) and about 0.03 s of work
(reading the catalog's ~110 files, typer's parsing, the table). ``run FILE`` (the Vidur
workload): of its time outside the simulation (about 0.5 s on a quiet machine, 0.8-1.5 s under
load 4-6), almost all is imports (numpy, pydantic, the sweep package, the scenario schema's
validator) and under 0.02 s after the simulation; this pass took it from 1.19-1.50 to
0.97-1.35 s (three interleaved pairs at load 4, the simulation patched to stamp its start).
A later pass (the scenario and its first digest from the validated-entry cache, no schema
built; the recipe writers and the sweep runner no longer imported by ``run``) took ``run tiny
--seeds 1`` from 0.807 to 0.772 s median wall, 0.909 -> 0.873 s CPU (7 pairs, load 1-2): the
command's imports about 0.63 -> 0.58 s, reading the scenario 0.020 -> 0.006 s.
Wave 5 quiet-machine check (2026-12-03 18:33 UTC, load about 1, ``--tree`` pairs of
``git archive d7740c4`` and this tree, ``--repeat 5``, bytecode): ``--help`` 0.342 -> 0.280 s
median wall, ``step`` 0.733 -> 0.434 s (best 0.582 -> 0.410, CPU 0.812 -> 0.423: the 0.5 s
target is met; numpy no longer imported), ``run tiny`` 1.079 -> 0.840 s.

Wave 6 (2026-12-03 20:49-20:51 UTC, load 2-3.6, ``--tree`` pairs of the tree with this pass's
files put back and this one, ``--repeat 5``, bytecode): ``run tiny`` 0.853 -> 0.752 s CPU
(median wall 1.269 -> 1.210); ``step`` 0.478 -> 0.462 s CPU and ``--help`` 0.290 -> 0.293 s
(noise: the same path); ``run v10k`` (``--scenario`` with the Vidur workload of
``bench_engine.py``, 10k requests) 2.58 s CPU both, its simulation's noise larger than the
change. Its CPU time up to the simulation's start (15 interleaved pairs, the engine's
``simulate`` patched to stamp it): 0.658 -> 0.608 s median, 0.513 -> 0.427 s best; after the
simulation about 0.01 s (summary, intervals, JSON). What went: rich (about 0.05 s: ``run
--json`` with stderr no terminal draws no bar, ``cli.progress.text_bar``, and prints no table;
the consoles of ``cli.options`` are made at first use) and PyYAML (about 0.017 s: the scenario
file's data from the parsed-file cache). What is left is imports: numpy, pydantic with the
catalog's and the scenario's models, typer, simpy (which reads its own metadata), and
``accelsim.sweep.replicate``'s executors, lanes (multiprocessing) and evaluators (pricing, cost,
uncertainty), about 0.02-0.04 s that ``run --seeds 1`` never uses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = "from accelsim.cli import main; main()"
TINY = Path(__file__).resolve().parent.parent / "workloads" / "scenarios" / "tiny.yaml"
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
    # start-up plus a small simulation (the tiny scenario, one seed)
    "run tiny": ["run", str(TINY), "--json", "--seeds", "1"],
}
HEAVY = ("matplotlib", "scipy", "pint", "pandas", "numpy")


def _env(tree: str | None, pycache: str | None) -> dict[str, str]:
    """The environment of one run: ``tree`` first on ``PYTHONPATH``; with ``pycache`` the
    bytecode is written to and read from that folder (``PYTHONPYCACHEPREFIX``) whatever
    ``PYTHONDONTWRITEBYTECODE`` says, as in an installed package, whose bytecode pip compiles."""
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    if pycache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _run(
    args: list[str], tree: str | None, pycache: str | None, importtime: bool = False
) -> tuple[float, float, str]:
    env = _env(tree, pycache)
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
    ap.add_argument(
        "--scenario",
        action="append",
        default=[],
        help="also time `run FILE --json --seeds 1` on this scenario file (repeatable; e.g. "
        "the Vidur workload of bench_engine.py)",
    )
    ap.add_argument(
        "--no-bytecode",
        action="store_true",
        help="compile every module from source on every run (PYTHONDONTWRITEBYTECODE=1)",
    )
    args = ap.parse_args()
    trees: list[str | None] = list(args.tree) if args.tree else [None]
    for scenario in args.scenario:
        path = Path(scenario).resolve()
        COMMANDS[f"run {path.stem}"] = ["run", str(path), "--json", "--seeds", "1"]
    with tempfile.TemporaryDirectory(prefix="bench-startup-pyc-") as pyc:
        pycache = None if args.no_bytecode else pyc
        if args.no_bytecode:
            os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        _measure(trees, args.repeat, pycache)


def _measure(trees: list[str | None], repeat: int, pycache: str | None) -> None:
    walls: dict[tuple, list[float]] = {}
    cpus: dict[tuple, list[float]] = {}
    for cmd in COMMANDS.values():
        for tree in trees:
            _run(cmd, tree, pycache)  # warm the file cache and the bytecode
    for _ in range(repeat):
        for name, cmd in COMMANDS.items():
            for tree in trees:
                wall, cpu, _ = _run(cmd, tree, pycache)
                walls.setdefault((tree, name), []).append(wall)
                cpus.setdefault((tree, name), []).append(cpu)
    print("bytecode: " + ("compiled once, then read (PYTHONPYCACHEPREFIX)" if pycache else "none"))
    width = max(9, *(len(name) for name in COMMANDS))
    print(
        f"{'tree':24} {'command':{width}} {'median s':>9} {'best s':>7} {'CPU s':>6}  heavy imports"
    )
    for name, cmd in COMMANDS.items():
        for tree in trees:
            _w, _c, err = _run(cmd, tree, pycache, importtime=True)
            heavy = [h for h in HEAVY if f" {h}\n" in err or f" {h}." in err]
            w = walls[(tree, name)]
            print(
                f"{(tree or 'this tree')[-24:]:24} {name:{width}} {statistics.median(w):>9.3f} "
                f"{min(w):>7.3f} {statistics.median(cpus[(tree, name)]):>6.3f}  "
                f"{', '.join(heavy) or '-'}"
            )


if __name__ == "__main__":
    main()
