"""Engine checks against queueing theory, KV-cache invariants and determinism.

Queueing runs use static batching of size 1 with one output token, so a request is served by
exactly one iteration (its prefill): the replica is a single FIFO server whose service time is
the stub's iteration time. Confidence bands: with the fixed seeds below the estimates sit well
inside them; each band is about 3 standard errors of the mean wait for the sample size used
(waits are autocorrelated, so the error was sized from batch means, not from N alone).
"""

from __future__ import annotations

import numpy as np
import pytest
from stub_models import Const, Expo, Linear

from accelsim.sim.admission import SchedulerConfig, policy
from accelsim.sim.engine import KVTransfer, Pool, simulate
from accelsim.sim.iteration_cache import quantize
from accelsim.sim.traffic import Requests


def poisson(n: int, rate: float, seed: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).exponential(1 / rate, n))


def single_server(model, n: int, rate: float, seed: int, replicas: int = 1, **kw):
    req = Requests.from_arrays(poisson(n, rate, seed), np.full(n, 8), np.ones(n, int))
    pool = Pool(model, replicas=replicas, scheduler=SchedulerConfig(policy="static", batch_size=1))
    return simulate(req, pool, **kw)


def test_md1_mean_wait_matches_pollaczek_khinchine():
    lam, d = 0.5, 1.0
    res = single_server(Const(d), 40_000, lam, seed=3)
    rho = lam * d
    wq = rho / (2 * (1 / d) * (1 - rho))  # 0.5 s
    got = res.summary.queue_s.mean
    assert got == pytest.approx(wq, rel=0.08)


def test_mm1_mean_wait():
    lam, mu = 0.5, 1.0
    res = single_server(Expo(1 / mu, seed=11), 40_000, lam, seed=5)
    wq = lam / (mu * (mu - lam))  # 1.0 s
    assert res.summary.queue_s.mean == pytest.approx(wq, rel=0.10)
    # sojourn time of M/M/1 is exponential with mean 1/(mu - lam)
    assert res.summary.e2e_s.mean == pytest.approx(1 / (mu - lam), rel=0.10)


@pytest.mark.parametrize("rate", [0.5, 5.0, 40.0])
def test_unlimited_replicas_never_wait(rate):
    res = single_server(
        Const(0.3), 2_000, rate, seed=1, replicas=64, router="least_outstanding_tokens"
    )
    q = res.records["scheduled_at"] - res.records["arrived_at"]
    assert np.all(q == 0.0)


def test_event_skipping_gives_identical_records():
    n = 3_000
    rng = np.random.default_rng(7)
    req = Requests.from_arrays(
        poisson(n, 30, 2), rng.integers(50, 3000, n), rng.integers(1, 300, n)
    )
    for pol in ("continuous", "chunked_prefill", "static"):
        pool = Pool(
            Linear(1.7),
            replicas=3,
            kv_tokens=60_000,
            scheduler=SchedulerConfig(policy=pol, max_batched_tokens=2048),
        )
        a = simulate(req, pool, event_skipping=True, router="power_of_two", seed=4)
        b = simulate(req, pool, event_skipping=False, router="power_of_two", seed=4)
        assert a.records.tobytes() == b.records.tobytes(), pol


def test_same_seed_same_bytes():
    n = 1_000
    rng = np.random.default_rng(1)
    req = Requests.from_arrays(poisson(n, 20, 1), rng.integers(10, 900, n), rng.integers(1, 200, n))
    pool = Pool(Linear(), replicas=2, kv_tokens=20_000)
    a = simulate(req, pool, router="power_of_two", seed=9)
    b = simulate(req, pool, router="power_of_two", seed=9)
    assert a.records.tobytes() == b.records.tobytes()


@pytest.mark.parametrize("pol", ["continuous", "chunked_prefill", "static"])
def test_kv_pressure_preempts_and_everything_finishes(pol):
    n = 400
    rng = np.random.default_rng(2)
    prompt = rng.integers(100, 1500, n)
    output = rng.integers(50, 600, n)
    prompt[0] = 9_000  # longer than the whole cache: rejected with a reason
    req = Requests.from_arrays(poisson(n, 50, 3), prompt, output)
    pool = Pool(
        Linear(),
        kv_tokens=8_192,
        scheduler=SchedulerConfig(policy=pol, block_size=16, max_batched_tokens=1024),
    )
    res = simulate(req, pool, check_invariants=True)
    rec = res.records
    assert res.summary.completed + res.summary.rejected == n
    assert list(rec.outcome[:1]) == ["rejected"] and rec.reason[0] == "exceeds_kv_capacity"
    assert res.summary.rejected == 1
    if pol != "static":
        assert res.summary.preemptions > 0
    done = rec["outcome"] == 1
    assert np.all(rec["finished_at"][done] >= rec["first_token_at"][done])
    assert np.all(rec["first_token_at"][done] >= rec["scheduled_at"][done])
    assert np.all(rec["scheduled_at"][done] >= rec["arrived_at"][done])


def test_tokens_emitted_match_outputs_with_fractional_speculation():
    n = 300
    rng = np.random.default_rng(3)
    out = rng.integers(1, 200, n)
    req = Requests.from_arrays(poisson(n, 10, 4), rng.integers(10, 500, n), out)
    plain = simulate(req, Pool(Linear(1.0), kv_tokens=10**6))
    spec = simulate(req, Pool(Linear(1.7), kv_tokens=10**6))
    assert plain.summary.completed == spec.summary.completed == n
    # 1.7 tokens per step: decode phases about 1/1.7 as long
    d_plain = plain.records["finished_at"] - plain.records["first_token_at"]
    d_spec = spec.records["finished_at"] - spec.records["first_token_at"]
    assert d_spec.sum() < 0.75 * d_plain.sum()


def test_decode_steps_follow_output_length():
    # one request alone: prefill (1 iteration) + (output - 1) decode iterations of 1 s each
    req = Requests.from_arrays([0.0], [100], [5])
    res = simulate(req, Pool(Const(1.0)))
    r = res.records
    assert r["first_token_at"][0] == 1.0 and r["finished_at"][0] == 5.0


def test_prefix_hits_skip_prefill_compute():
    n = 200
    arr = poisson(n, 5, 1)
    cold = simulate(
        Requests.from_arrays(arr, np.full(n, 4000), np.full(n, 2)), Pool(Linear(), kv_tokens=10**6)
    )
    warm = simulate(
        Requests.from_arrays(arr, np.full(n, 4000), np.full(n, 2), np.full(n, 3584)),
        Pool(Linear(), kv_tokens=10**6),
    )
    assert warm.summary.ttft_s.mean < 0.5 * cold.summary.ttft_s.mean


def test_disaggregated_pools_transfer_kv():
    n = 500
    rng = np.random.default_rng(5)
    req = Requests.from_arrays(
        poisson(n, 20, 5), rng.integers(100, 2000, n), rng.integers(1, 100, n)
    )
    pre = Pool(Linear(), replicas=2, kv_tokens=50_000)
    dec = Pool(Linear(), replicas=3, kv_tokens=50_000)
    slow = KVTransfer(kv_bytes_per_token=70_000, link_bandwidth=1e9, link_latency=1e-3)
    fast = KVTransfer(kv_bytes_per_token=70_000, link_bandwidth=1e12, link_latency=1e-5)
    a = simulate(req, pre, decode_pool=dec, transfer=slow, check_invariants=True)
    b = simulate(req, pre, decode_pool=dec, transfer=fast)
    c = simulate(req, pre, decode_pool=dec, transfer=slow, event_skipping=False)
    assert a.records.tobytes() == c.records.tobytes()
    assert a.summary.completed == b.summary.completed == n
    assert a.summary.e2e_s.mean > b.summary.e2e_s.mean
    multi = req.output_tokens > 1
    assert set(a.records["replica"][multi]) <= {2, 3, 4}  # decode replicas come after prefill


@pytest.mark.parametrize("router", ["round_robin", "least_outstanding_tokens", "power_of_two"])
def test_routers_spread_load(router):
    n = 600
    req = Requests.from_arrays(poisson(n, 40, 1), np.full(n, 200), np.full(n, 20))
    res = simulate(req, Pool(Linear(), replicas=4, kv_tokens=10**5), router=router, seed=1)
    counts = np.bincount(res.records["replica"], minlength=4)
    assert counts.min() > n / 8


def test_closed_loop_keeps_concurrency():
    n = 200
    req = Requests(
        np.full(n, np.nan),
        np.full(n, 100, np.int64),
        np.full(n, 10, np.int64),
        np.zeros(n, np.int64),
        clients=4,
        think_time=0.5,
    )
    res = simulate(req, Pool(Const(0.01)))
    assert res.summary.completed == n
    arrived = np.sort(res.records["arrived_at"])
    assert np.all(arrived[:4] == 0.0) and arrived[4] > 0.5


def test_quantize_is_within_half_a_percent():
    for x in (0, 1, 255, 256, 1000, 123_457, 9_999_999):
        assert abs(quantize(x) - x) <= max(x * 0.004, 0)


def test_unknown_policy_name_suggests():
    with pytest.raises(Exception, match="continuous"):
        policy("continous")


def test_closed_loop_with_a_rate_waits_for_release_and_a_free_client():
    """bench_serving --request-rate R --max-concurrency N: request i is sent at
    max(its release time, the moment one of the N clients is free)."""
    release = np.array([0.0, 0.001, 0.002, 5.0, 5.001])
    req = Requests(
        release,
        np.full(5, 10, np.int64),
        np.ones(5, np.int64),
        np.zeros(5, np.int64),
        clients=2,
    )
    res = simulate(req, Pool(Const(1.0), scheduler=SchedulerConfig(policy="static", batch_size=1)))
    # one request per 1 s iteration: 0 -> [0,1], 1 -> [1,2], 2 sent when 0 returns at t=1
    # and served [2,3]; 3 and 4 are released at 5 s although clients are free from t=3
    arrived = res.records["arrived_at"]
    assert arrived.tolist() == pytest.approx([0.0, 0.001, 1.0, 5.0, 5.001])
    assert res.records["finished_at"].tolist() == pytest.approx([1.0, 2.0, 3.0, 6.0, 7.0])


class Work(Const):
    """Const time plus the work (FLOPs, bytes) and peaks an MFU/MBU estimate needs."""

    peak_flops = 1e15
    peak_hbm_bandwidth = 1e12

    def iteration_work(self, batch) -> tuple[float, float, float]:
        return self.s, 2e12, 4e9


def test_mfu_and_mbu_from_iteration_work():
    # 2 replicas, 4 one-token requests at t=0 (static batches of 1): each replica runs 2
    # iterations of 0.01 s, so the run lasts 0.02 s and does 4 x (2e12 FLOPs, 4e9 bytes)
    n = 4
    req = Requests.from_arrays(np.zeros(n), np.full(n, 8), np.ones(n))
    pool = Pool(Work(0.01), replicas=2, scheduler=SchedulerConfig(policy="static", batch_size=1))
    s = simulate(req, pool).summary
    assert s.duration_s == pytest.approx(0.02)
    assert s.mfu == pytest.approx(4 * 2e12 / 0.02 / (2 * 1e15))  # 0.2
    assert s.mbu == pytest.approx(4 * 4e9 / 0.02 / (2 * 1e12))  # 0.4
    bare = simulate(req, Pool(Const(0.01))).summary  # no work reported: no figures, no keys
    assert bare.mfu is None and "mfu" not in bare.as_dict()
