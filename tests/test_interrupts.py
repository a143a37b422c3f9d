"""Ctrl-C and SIGTERM during ``run``, ``sweep`` and ``report``: the process says "interrupted",
exits 130 (143 for SIGTERM) and leaves no partial output; a sweep's pool workers die with it,
even when it is killed with SIGKILL; a second sweep on a folder that one is writing is refused.

Each test starts ``accelsim`` as a subprocess, waits until it is working (its output folder's
lock, or a fixed start-up delay for commands that write nothing before they finish), signals it
and checks what is left on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ACCELSIM = [sys.executable, "-c", "from accelsim.cli import main; main()"]
#: A sweep of slow points (the simulator on a scenario of a few thousand requests), so that it
#: is still running when it is signalled.
#: A run that takes about 20 s on 2 cores, so that the signal lands while it works.
LONG_RUN = ("default", "--set", "scenario.traffic.duration=30000s")

SLOW_SWEEP = """name: slow
base: azure-conv-deepseek-v3
evaluator: simulate
axes:
  traffic.rate: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
"""


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("ACCELSIM_CATALOG", None)
    return subprocess.Popen(
        [*ACCELSIM, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(predicate, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"ended early: {proc.communicate()}"
        assert time.monotonic() < end, "never started working"
        time.sleep(0.05)


def _started(proc: subprocess.Popen[str], seconds: float = 4.0) -> None:
    """Give ``proc`` time to import and start its work (it must still be running then)."""
    time.sleep(seconds)
    assert proc.poll() is None, f"finished before the signal: {proc.communicate()}"


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_run_leaves_no_output(tmp_path, sig, status):
    out = tmp_path / "out"
    proc = _start(["run", *LONG_RUN, "--out", str(out)], tmp_path)
    _started(proc)
    proc.send_signal(sig)
    code, err = _finish(proc)
    assert code == status and "interrupted" in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    assert not _leftovers(tmp_path)


def test_ctrl_c_during_report_leaves_no_report(tmp_path):
    target = tmp_path / "report.html"
    proc = _start(["report", "tiny", "--output", str(target)], tmp_path)
    _started(proc)
    proc.send_signal(signal.SIGINT)
    code, err = _finish(proc)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert not target.exists() and not _leftovers(tmp_path)


def _sweep(tmp_path: Path, out: Path) -> subprocess.Popen[str]:
    (tmp_path / "slow.yaml").write_text(SLOW_SWEEP)
    args = ["sweep", "slow.yaml", "--workers", "2", "--no-chart", "--out", str(out)]
    return _start(args, tmp_path)


def _workers(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    return psutil.Process(proc.pid).children(recursive=True)


def test_ctrl_c_during_sweep_stops_its_workers(tmp_path):
    out = tmp_path / "res"
    proc = _sweep(tmp_path, out)
    _wait_for(lambda: (out / "results.sqlite").exists() and len(_workers(proc)) >= 2, proc)
    workers = _workers(proc)
    proc.send_signal(signal.SIGINT)
    code, err = _finish(proc)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    _gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive
    assert not (out / "summary.json").exists() and not _leftovers(tmp_path)


def test_sigkilled_sweep_takes_its_workers_with_it(tmp_path):
    out = tmp_path / "res"
    proc = _sweep(tmp_path, out)
    _wait_for(lambda: (out / "results.sqlite").exists() and len(_workers(proc)) >= 2, proc)
    workers = _workers(proc)
    proc.kill()
    proc.communicate(timeout=30)
    _gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"orphaned workers: {alive}"


def test_a_second_sweep_on_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "res"
    first = _sweep(tmp_path, out)
    try:
        _wait_for(lambda: (out / "results.sqlite").exists(), first)
        second = _start(
            ["sweep", "slow.yaml", "--workers", "0", "--no-chart", "--out", str(out), "--resume"],
            tmp_path,
        )
        code, err = _finish(second)
        assert code == 2 and "another sweep is writing" in err
        assert len([line for line in err.splitlines() if line.strip()]) == 1
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)


@pytest.mark.parametrize("evaluator", ["toy"])
def test_a_sweep_with_failed_points_exits_1_and_says_why(tmp_path, evaluator):
    (tmp_path / "f.yaml").write_text(
        f"name: f\nbase: tiny\nevaluator: {evaluator}\n"
        "axes:\n  fail: [0, 1, 2]\n  traffic.rate: [1]\n"
    )
    proc = _start(["sweep", "f.yaml", "--workers", "0", "--no-chart", "--out", "r"], tmp_path)
    code, err = _finish(proc)
    assert code == 1
    assert "2 of 3 points failed" in err and "asked to fail" in err
