"""Hypothesis: requests are conserved and KV never overflows, whatever the traffic and limits."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stub_models import Linear

from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.engine import KVTransfer, Pool, simulate
from accelsim.sim.traffic import Requests

#: The properties' stub: cheaper per token than the engine tests' default, no attention term.
LINEAR = (0.002, 1e-4, 1e-8, 1e-5, 0.0)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 60),
    rate=st.floats(0.5, 500),
    max_prompt=st.integers(1, 3000),
    max_output=st.integers(1, 400),
    kv_tokens=st.integers(64, 20_000),
    block=st.sampled_from([1, 16, 128]),
    pol=st.sampled_from(["continuous", "chunked_prefill", "static"]),
    replicas=st.integers(1, 3),
    router=st.sampled_from(["round_robin", "least_outstanding_tokens", "power_of_two"]),
    k=st.sampled_from([1.0, 1.5, 2.7]),
    max_seqs=st.integers(1, 32),
    budget=st.integers(16, 4096),
    disagg=st.booleans(),
    seed=st.integers(0, 10),
    preemption=st.sampled_from(["recompute", "retract-sglang", "no-evict"]),
)
def test_conservation_and_kv_capacity(
    n,
    rate,
    max_prompt,
    max_output,
    kv_tokens,
    block,
    pol,
    replicas,
    router,
    k,
    max_seqs,
    budget,
    disagg,
    seed,
    preemption,
):
    """Whatever the policy, router, preemption (vLLM recompute, SGLang retraction or
    TensorRT-LLM's no-evict, which never preempts) and
    disaggregation: every request completes or is rejected with a reason, and the KV blocks in
    use never exceed capacity (``check_invariants`` recounts them after every iteration)."""
    rng = np.random.default_rng(seed)
    arrived = np.cumsum(rng.exponential(1 / rate, n))
    prompt = rng.integers(1, max_prompt, n, endpoint=True)
    cached = (prompt * rng.uniform(0, 0.5, n)).astype(int)
    req = Requests.from_arrays(
        arrived, prompt, rng.integers(1, max_output, n, endpoint=True), cached
    )
    sc = SchedulerConfig(
        policy=pol,
        block_size=block,
        max_seqs=max_seqs,
        max_batched_tokens=budget,
        batch_size=max_seqs,
        preemption="recompute" if pol == "static" else preemption,
    )
    pool = Pool(Linear(k, LINEAR), replicas=replicas, kv_tokens=kv_tokens, scheduler=sc)
    kw = {}
    if disagg:
        kw = {
            "decode_pool": Pool(Linear(k, LINEAR), replicas=2, kv_tokens=kv_tokens, scheduler=sc),
            "transfer": KVTransfer(1000.0, 1e9, 1e-4),
        }
    res = simulate(req, pool, router=router, seed=seed, check_invariants=True, **kw)
    s = res.summary
    assert s.completed + s.rejected == s.arrived == n
    out = res.records["outcome"]
    assert set(np.unique(out)) <= {1, 2}
    rejected = out == 2
    assert np.all(res.records.reason[rejected] != "")
    done = out == 1
    assert np.all(np.isfinite(res.records["finished_at"][done]))
    if preemption == "no-evict" and pol != "static" and k == 1.0:
        # a started request is never paused (with k > 1 a lone request whose speculative last
        # step overshoots an exactly-fitting cache may still be)
        assert int(res.records["preemptions"].sum()) == 0
