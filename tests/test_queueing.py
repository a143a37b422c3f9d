"""Queueing checks beyond one server (``test_engine`` holds M/D/1 and M/M/1): Erlang-C bounds on
several replicas, Little's law on simulated runs, throughput saturation under overload, and
request conservation with the real timing model.

The engine routes each request to a replica when it arrives (there is no central queue), so c
replicas are not an M/M/c queue: under join-the-shortest-queue routing
(``least_outstanding_tokens`` with equal prompts) the mean wait lies between M/M/c's (Erlang C,
the central-queue optimum) and that of c independent M/M/1 queues at rate lambda/c (random
splitting). Both bounds are hand-computed below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stub_models import Const, Expo

from accelsim.catalog.loader import load_catalog
from accelsim.run.resolve import load_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.engine import Pool, simulate
from accelsim.sim.traffic import Requests


def _requests(n: int, rate: float, seed: int) -> Requests:
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1 / rate, n))
    return Requests.from_arrays(arrivals, np.full(n, 8), np.ones(n, int))


def _pool(model, replicas: int) -> Pool:
    return Pool(model, replicas=replicas, scheduler=SchedulerConfig(policy="static", batch_size=1))


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of M/M/c: C(c, a) / (c mu - lam), a = lam / mu."""
    a = lam / mu
    rho = a / c
    head = sum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) / (1 - rho)
    return tail / (head + tail) / (c * mu - lam)


def test_erlang_c_by_hand():
    # c = 2, a = 1: C = (1/2 / (1/2)) / (1 + 1 + 1) = 1/3; Wq = (1/3) / (2 - 1) = 1/3
    assert erlang_c_wait(1.0, 1.0, 2) == pytest.approx(1 / 3)
    # c = 1 is M/M/1: Wq = rho / (mu - lam) = 0.5 / 0.5 = 1
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(1.0)


def test_shortest_queue_wait_lies_between_erlang_c_and_split_mm1():
    lam, mu, c = 2.4, 1.0, 3  # rho = 0.8
    res = simulate(
        _requests(20_000, lam, seed=2),
        _pool(Expo(1 / mu, seed=9), c),
        router="least_outstanding_tokens",
    )
    wait = res.summary.queue_s.mean
    central = erlang_c_wait(lam, mu, c)  # 1.079 s
    split = (lam / c) / (mu * (mu - lam / c))  # 4.0 s: each M/M/1 at rho 0.8
    assert central * 0.9 < wait < split
    # join-the-shortest-queue is close to the central queue at this load (within 2x)
    assert wait < 2 * central


@pytest.mark.parametrize(("rate", "replicas"), [(0.6, 1), (2.0, 3)])
def test_littles_law_on_simulated_runs(rate, replicas):
    """L = lambda W twice: the number in the system sampled at 20,000 random instants against
    arrival rate x mean sojourn (records), and the time-mean busy replicas (the timeline)
    against arrival rate x mean service time (1 s: the utilization law)."""
    res = simulate(
        _requests(10_000, rate, seed=4),
        _pool(Const(1.0), replicas),
        router="least_outstanding_tokens",
        timeline_bin=1.0,
    )
    rec = res.records
    start, end = float(rec["arrived_at"][0]), float(np.nanmax(rec["finished_at"]))
    lam = len(rec) / (end - start)
    instants = np.random.default_rng(0).uniform(start, end, 20_000)
    arrived = np.searchsorted(np.sort(rec["arrived_at"]), instants, side="right")
    left = np.searchsorted(np.sort(rec["finished_at"]), instants, side="right")
    in_system = float(np.mean(arrived - left))
    assert in_system == pytest.approx(lam * res.summary.e2e_s.mean, rel=0.05)
    assert res.summary.busy_fraction == pytest.approx(lam * 1.0 / replicas, rel=0.02)


def test_throughput_saturates_at_capacity_under_overload():
    d, replicas = 0.5, 2  # capacity: 2 replicas x 1 / 0.5 s = 4 requests/s
    for rate in (40.0, 400.0):
        res = simulate(_requests(2_000, rate, seed=1), _pool(Const(d), replicas))
        assert res.summary.completed == 2_000
        assert res.summary.throughput.requests_per_s == pytest.approx(replicas / d, rel=0.02)


def test_every_request_is_accounted_for_with_the_real_timing_model():
    """The tiny scenario (DeepSeek-V2-Lite on A100s, the roofline timing model) at 10x its
    load with a horizon: every generated request ends completed, rejected or cut."""
    cat = load_catalog(
        None,
        ["scenario.traffic.rate=200/s", "scenario.traffic.requests=300", "scenario.horizon=1 s"],
    )
    res = run_scenario(load_scenario("tiny", cat), cat)
    s = res.summary
    cut = s.cut_by_horizon or 0
    assert cut > 0 and s.arrived == len(res.records)
    assert s.arrived + cut == 300
    assert s.completed + s.rejected == s.arrived
    assert sum(s.rejected_by_reason.values()) == s.rejected
    done = res.records.array[res.records.outcome == "completed"]
    tokens = float(done["output_tokens"].sum())
    assert s.throughput.output_tokens_per_s * s.duration_s == pytest.approx(tokens, rel=1e-9)
