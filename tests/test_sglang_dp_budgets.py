"""SGLang's scheduler budgets under DP attention, as ``accelsim.run.resolve`` records them
(``per_rank_chunks``, ``sglang_rank_requests``): ``--chunked-prefill-size`` is divided by dp_size
(``ServerArgs._handle_data_parallelism``), ``--max-running-requests`` too (``TpModelWorker``),
``--max-prefill-tokens`` is not. Expected values are hand-computed."""

from __future__ import annotations

import pytest

from accelsim.errors import AccelsimError
from accelsim.model.plan import parse_plan
from accelsim.run.resolve import per_rank_chunks, resolve_scenario, sglang_rank_requests
from accelsim.run.scenario import Scenario
from accelsim.validate.cases import load_cases


def _scenario(framework: str | None, policy: str = "chunked_prefill", **sched) -> Scenario:
    raw = {
        "name": "t",
        "model": "m",
        "device": "d",
        "cards": 8,
        "scheduler": {"policy": policy, "max_batched_tokens": 94208, **sched},
        "traffic": "chat",
    }
    if framework is not None:
        raw["framework"] = {"name": framework}
    return Scenario.model_validate(raw)


DP16 = parse_plan("tp=1,dp=16,ep=16")


@pytest.mark.parametrize("name", ["sglang", "sglang-ascend"])
def test_sglang_chunks_a_prompt_at_its_ranks_share(name):
    # --chunked-prefill-size 94,208 under DP attention over 16 ranks: 94,208 // 16 = 5,888 per
    # rank (the sglci Qwen3-235B launch line); over 3 ranks 94,208 // 3 = 31,402
    sc = _scenario(name)
    assert per_rank_chunks(sc, DP16, sc.scheduler).chunk_tokens == 5888
    assert per_rank_chunks(sc, parse_plan("tp=1,dp=3"), sc.scheduler).chunk_tokens == 31402
    # chunked prefill off (--chunked-prefill-size -1: the continuous policy) or no DP: no cap
    cont = _scenario(name, "continuous")
    assert per_rank_chunks(cont, DP16, cont.scheduler) is cont.scheduler
    assert per_rank_chunks(sc, parse_plan("tp=16"), sc.scheduler) is sc.scheduler


@pytest.mark.parametrize("name", ["sglang", "sglang-ascend"])
def test_sglang_running_requests_are_a_ranks_whole_share(name):
    # --max-running-requests 250 over 16 DP ranks: 250 // 16 = 15 per rank, 16 x 15 = 240 in
    # the replica; 256: 16 per rank, kept as it is; 16: one per rank
    sc = _scenario(name, max_seqs=250)
    assert sglang_rank_requests(sc, DP16, sc.scheduler).max_seqs == 240
    even = _scenario(name, max_seqs=256)
    assert sglang_rank_requests(even, DP16, even.scheduler) is even.scheduler
    one = _scenario(name, max_seqs=16)
    assert sglang_rank_requests(one, DP16, one.scheduler) is one.scheduler
    # no DP attention: the engine's own limit
    assert sglang_rank_requests(sc, parse_plan("tp=16"), sc.scheduler) is sc.scheduler


def test_other_frameworks_keep_their_running_requests():
    # vLLM's --max-num-seqs is per DP rank already (a scenario gives it times dp)
    for name in ("vllm", "tensorrt-llm", None):
        sc = _scenario(name, max_seqs=250)
        assert sglang_rank_requests(sc, DP16, sc.scheduler) is sc.scheduler


def test_sglang_under_one_request_per_rank_is_one_line_naming_the_field():
    # 8 requests over 16 ranks: 8 // 16 = 0, and SGLang does not start
    sc = _scenario("sglang", max_seqs=8)
    where = "disaggregation.prefill.scheduler"
    with pytest.raises(AccelsimError) as err:
        sglang_rank_requests(sc, DP16, sc.scheduler, where)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"{where}.max_seqs 8 is under the plan's dp=16" in msg
    assert "give at least 16" in msg


def test_resolving_an_sglang_case_records_the_per_rank_limit(catalog):
    # sgl-a3-r1-mixed8 (tp=1,dp=16) with --max-running-requests 250: 240 recorded; as published
    # (256, 16 per rank) it is kept
    case = {c.id: c for c in load_cases(None, catalog)}["sgl-a3-r1-mixed8-2k2k-50ms"]
    assert resolve_scenario(case.scenario, catalog).scheduler.max_seqs == 256
    odd = case.scenario.model_copy(
        update={"scheduler": case.scenario.scheduler.model_copy(update={"max_seqs": 250})}
    )
    assert resolve_scenario(odd, catalog).scheduler.max_seqs == 240
