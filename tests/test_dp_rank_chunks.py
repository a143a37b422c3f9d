"""Per-DP-rank prefill chunks: ``SchedulerConfig.chunk_tokens`` in the engine (both hot paths:
``_Replica._prefill`` and ``accelsim.sim.mixed_loop.run_mixed``) and the vLLM convention that
records it (``accelsim.run.resolve.per_rank_chunks``). Expected values are hand-computed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.model.plan import parse_plan
from accelsim.run.resolve import per_rank_chunks, resolve_scenario
from accelsim.run.scenario import Scenario
from accelsim.sim.admission import SchedulerConfig
from accelsim.sim.engine import KVTransfer, Pool, simulate
from accelsim.sim.traffic import Requests
from accelsim.validate.cases import load_cases


class Recording:
    """Every iteration takes one second; the batches priced are kept (never cached)."""

    tokens_per_decode_step = 1.0
    cacheable = False

    def __init__(self) -> None:
        self.batches: list = []

    def iteration_time(self, batch) -> float:
        self.batches.append(batch)
        return 1.0


def _two_prompts(output: int) -> Requests:
    """Two 1,000-token prompts arriving at t = 0."""
    return Requests.from_arrays(np.zeros(2), np.full(2, 1000), np.full(2, output))


@pytest.mark.parametrize("skipping", [True, False])
def test_chunk_cap_spreads_two_prompts_over_one_iteration_each(skipping):
    # budget 1,000: without a cap the first prompt takes it all (TTFT 1 s, then 2 s); capped at
    # 500 each iteration carries 500 of each prompt, so both first tokens come at 2 s
    req = _two_prompts(output=1)
    ttft = {}
    for cap in (None, 500):
        model = Recording()
        sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=1000, chunk_tokens=cap)
        res = simulate(req, Pool(model, kv_tokens=10_000, scheduler=sc), event_skipping=skipping)
        ttft[cap] = sorted(res.records["first_token_at"].tolist())
        first = model.batches[0]
        assert (first.prefill_seqs, first.prefill_tokens) == (
            (1, 1000) if cap is None else (2, 1000)
        )
    assert ttft[None] == [1.0, 2.0]
    assert ttft[500] == [2.0, 2.0]


@pytest.mark.parametrize("skipping", [True, False])
def test_chunk_cap_with_decodes_running(skipping):
    # a 10-token request decodes while two 1,000-token prompts arrive at t = 0.5: its prefill
    # ends at 1 s; then budget 1,001 - 1 decode = 1,000, capped at 400 per prompt: chunks
    # 400 + 400, 400 + 400, 200 + 200, so both long prompts emit their first token at 4 s
    req = Requests.from_arrays(
        np.array([0.0, 0.5, 0.5]), np.array([10, 1000, 1000]), np.array([50, 1, 1])
    )
    model = Recording()
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=1001, chunk_tokens=400)
    res = simulate(req, Pool(model, kv_tokens=10_000, scheduler=sc), event_skipping=skipping)
    assert res.records["first_token_at"].tolist() == [1.0, 4.0, 4.0]
    mixed = [(b.decode_seqs, b.prefill_seqs, b.prefill_tokens) for b in model.batches[1:4]]
    assert mixed == [(1, 2, 800), (1, 2, 800), (1, 2, 400)]


def test_chunk_cap_on_a_prefill_pool():
    # a P/D prefill pool: the same two prompts, capped at 500, hand off together at 2 s
    req = _two_prompts(output=3)
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=1000, chunk_tokens=500)
    res = simulate(
        req,
        Pool(Recording(), kv_tokens=10_000, scheduler=sc),
        decode_pool=Pool(Recording(), kv_tokens=10_000),
        transfer=KVTransfer(kv_bytes_per_token=1.0, link_bandwidth=1e12),
    )
    assert res.records["first_token_at"].tolist() == [2.0, 2.0]


@settings(max_examples=40, deadline=None)
@given(
    prompts=st.lists(st.integers(1, 3000), min_size=1, max_size=12),
    cap=st.integers(1, 1200),
    budget=st.integers(64, 2400),
)
def test_no_chunk_exceeds_the_cap_and_every_request_finishes(prompts, cap, budget):
    # whatever the prompts, cap and budget: each priced prefill carries at most ``cap`` tokens
    # per sequence and at most ``budget`` tokens in all, and every request completes
    n = len(prompts)
    req = Requests.from_arrays(np.linspace(0, 2, n), np.array(prompts), np.full(n, 3))
    model = Recording()
    sc = SchedulerConfig(policy="chunked_prefill", max_batched_tokens=budget, chunk_tokens=cap)
    res = simulate(req, Pool(model, kv_tokens=40_000, scheduler=sc), check_invariants=True)
    assert res.summary.completed == n
    for b in model.batches:
        assert b.prefill_tokens <= b.prefill_seqs * cap
        assert b.prefill_tokens + b.decode_seqs <= max(budget, b.decode_seqs)


def _scenario(framework: str | None, policy: str = "chunked_prefill") -> Scenario:
    raw = {
        "name": "t",
        "model": "m",
        "device": "d",
        "cards": 8,
        "scheduler": {"policy": policy, "max_batched_tokens": 32768},
        "traffic": "chat",
    }
    if framework is not None:
        raw["framework"] = {"name": framework}
    return Scenario.model_validate(raw)


def test_vllm_records_a_dp_ranks_share_of_the_budget():
    # vLLM: one scheduler per DP rank, each with the launch line's budget: 32,768 / 4 = 8,192
    sc = _scenario("vllm")
    plan4 = parse_plan("tp=4,dp=4,ep=16")
    assert per_rank_chunks(sc, plan4, sc.scheduler).chunk_tokens == 8192
    assert per_rank_chunks(sc, parse_plan("tp=4,dp=3"), sc.scheduler).chunk_tokens == 10922
    # no DP, no chunking, another framework, or a cap given: the scheduler as it is
    assert per_rank_chunks(sc, parse_plan("tp=8"), sc.scheduler) is sc.scheduler
    cont = _scenario("vllm", "continuous")
    assert per_rank_chunks(cont, plan4, cont.scheduler) is cont.scheduler
    for other in (_scenario("tensorrt-llm"), _scenario(None)):
        assert per_rank_chunks(other, plan4, other.scheduler) is other.scheduler
    given = sc.scheduler.model_copy(update={"chunk_tokens": 1000})
    assert per_rank_chunks(sc, plan4, given) is given


def test_unset_chunk_tokens_leaves_the_digest():
    sc = _scenario("vllm")
    assert "chunk_tokens" not in sc.canonical()["scheduler"]
    capped = sc.model_copy(
        update={"scheduler": sc.scheduler.model_copy(update={"chunk_tokens": 8192})}
    )
    assert capped.canonical()["scheduler"]["chunk_tokens"] == 8192
    assert capped.digest != sc.digest


def test_resolving_vllm_dp_cases_records_the_per_rank_budget(catalog):
    # the launch lines' per-DP-rank --max-num-batched-tokens: 10,240 on V4-Flash 32K (dp 4,
    # replica budget 40,960); 8,192 on V4-Pro's P/D prefill pool (dp 4, 32,768); its decode pool
    # (continuous) and the SGLang cases' pools get no cap
    cases = {c.id: c for c in load_cases(None, catalog)}
    flash = resolve_scenario(cases["va-a3-dsv4flash-1node-32k1k-c16"].scenario, catalog)
    assert flash.scheduler.chunk_tokens == 10240
    pro = resolve_scenario(cases["va-a3-dsv4pro-pd4node-64k1k-c16"].scenario, catalog)
    assert pro.disaggregation.prefill.scheduler.chunk_tokens == 8192
    assert pro.disaggregation.decode.scheduler.chunk_tokens is None
    for case in cases.values():
        fw = case.scenario.framework if case.scenario is not None else None
        if fw is not None and fw.name != "vllm":
            sc = resolve_scenario(case.scenario, catalog)
            d = sc.disaggregation
            pools = [sc] if d is None else [d.prefill, d.decode]
            for pool in pools:
                assert pool.scheduler is None or pool.scheduler.chunk_tokens is None, case.id
