"""Launch recipes (``--emit``): each command reads back into the plan the answer assumed, every
flag is one the framework documents (the stored option lists), a plan a framework cannot launch
is one line naming the flag, and the text of each framework's recipe is pinned by a golden."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
import yaml
from clirun import run_cli

from accelsim.errors import AccelsimError
from accelsim.model.launchable import partition_launchable, unlaunchable
from accelsim.model.plan import ParallelPlan
from accelsim.questions.tune import tune
from accelsim.report.recipes import RECIPE_FORMATS, emit_recipe
from accelsim.report.recipes.options import OPTION_FILES, option_list
from accelsim.run.resolve import deploy
from accelsim.run.scenario import read_scenario

GOLDEN = Path(__file__).parent / "golden" / "recipes"


# ---- reading a recipe back --------------------------------------------------------------


def _pools(text: str) -> list[dict]:
    """Each pool of a recipe: its header fields and the flags of each node's command."""
    pools: list[dict] = []
    command: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("# accelsim-pool:"):
            fields = dict(f.split("=", 1) for f in line.split(":", 1)[1].split())
            pools.append({"head": fields, "nodes": []})
        elif line and not line.startswith("#"):
            command.append(line.rstrip("\\").strip())
            if line.endswith("\\"):
                continue
            words = shlex.split(" ".join(command))
            command = []
            flags: dict[str, str | None] = {}
            i = next(k for k, w in enumerate(words) if w.startswith("--"))
            while i < len(words):
                flag = words[i]
                value = None
                if i + 1 < len(words) and not words[i + 1].startswith("--"):
                    value = words[i + 1]
                    i += 1
                flags[flag] = value
                i += 1
            pools[-1]["nodes"].append(flags)
    return pools


def _plan_back(fw: str, f: dict, replicas: int) -> ParallelPlan:
    """The plan a framework runs, from its flags alone (each framework's documented meaning)."""
    if fw == "sglang":
        dp = int(f.get("--dp-size") or 1)
        tp = int(f["--tp-size"]) // dp
        ep = int(f.get("--ep-size") or 1)
        pp = int(f.get("--pp-size") or 1)
    else:
        tp = int(f["--tensor-parallel-size"])
        dp = int(f.get("--data-parallel-size") or 1)
        pp = int(f.get("--pipeline-parallel-size") or 1)
        ep = tp * dp if "--enable-expert-parallel" in f else 1
    return ParallelPlan(tp=tp, dp=dp, pp=pp, ep=ep, replicas=replicas)


def _scheduler_back(fw: str, f: dict) -> dict:
    if fw == "sglang":
        chunked = f["--chunked-prefill-size"] != "-1"
        budget = f["--chunked-prefill-size"] if chunked else f["--max-prefill-tokens"]
        return {
            "memory_fraction": float(f["--mem-fraction-static"]),
            "max_seqs": int(f["--max-running-requests"]),
            "max_batched_tokens": int(budget),
            "chunked": chunked,
            "block_size": int(f["--page-size"]),
        }
    return {
        "memory_fraction": float(f["--gpu-memory-utilization"]),
        "max_seqs": int(f["--max-num-seqs"]),
        "max_batched_tokens": int(f["--max-num-batched-tokens"]),
        "chunked": "--enable-chunked-prefill" in f,
        "block_size": int(f["--block-size"]),
    }


def _assert_same_plan(fw: str, text: str, d) -> None:
    pools = _pools(text)
    assert [p["head"]["role"] for p in pools] == [p.role for p in d.pools]
    for got, want in zip(pools, d.pools, strict=True):
        first = got["nodes"][0]
        replicas = int(got["head"]["replicas"])
        plan = want.plan
        assert _plan_back(fw, first, replicas) == ParallelPlan(
            tp=plan.tp, dp=plan.dp, pp=plan.pp, ep=plan.ep, replicas=plan.replicas
        )
        # one command per node of a replica, each node holding its share of the ranks
        nodes = int(got["head"]["nodes"])
        assert len(got["nodes"]) == nodes
        assert nodes * int(got["head"]["ranks_per_node"]) == plan.ranks_per_replica
        s = want.scheduler
        back = _scheduler_back(fw, first)
        assert back["max_seqs"] == s.max_seqs
        assert back["max_batched_tokens"] == s.max_batched_tokens
        assert back["chunked"] == (s.policy == "chunked_prefill")
        assert back["block_size"] == s.block_size
        assert 0 < back["memory_fraction"] <= 1
        if d.disaggregated:
            assert ("--disaggregation-mode" in first) == (fw == "sglang")
            assert ("--kv-transfer-config" in first) == (fw != "sglang")


# ---- the "done when": tune's best plan, launched -----------------------------------


@pytest.mark.parametrize(
    ("fw", "device"), [("sglang", "h800"), ("vllm", "h800"), ("vllm-ascend", None)]
)
def test_tune_emit_reads_back_into_the_tuned_plan(capsys, tmp_path, catalog, fw, device):
    grid = ["--top-k", "1", "--batched-tokens", "8192", "--max-seqs", "256", "--workers", "0"]
    on = ["--device", device] if device else []
    code, out, err = run_cli(
        capsys, "tune", "default", *on, "--cards", "32", *grid, "--out", str(tmp_path), "--emit", fw
    )
    assert code == 0, err
    # the same search, read back from its stored results (a rerun reuses them)
    res = tune(
        "default",
        device=device,
        cards=32,
        top_k=1,
        batched_tokens=[8192],
        max_seqs=[256],
        workers=0,
        out_dir=tmp_path,
        launch=fw,
    )
    d = deploy(read_scenario(res.best_scenario(), catalog), catalog)
    _assert_same_plan(fw, out, d)
    assert out.startswith("# accelsim launch recipe:")
    if fw == "vllm":  # ep=4 of tp=4,dp=4 is refused: vLLM's EP spans all tp*dp ranks
        refused = [r for r in res.evidence if "--enable-expert-parallel" in (r["reason"] or "")]
        assert refused and all(r["stage"] == "pruned" for r in refused)


# ---- recipes of fixed deployments ----------------------------------------------------------


def _deployment(catalog, **changes):
    raw = read_scenario("default", catalog).model_dump(exclude={"resolved"})
    raw.update(changes)
    return deploy(read_scenario(raw, catalog), catalog)


@pytest.mark.parametrize("fw", ["sglang", "vllm-ascend"])
def test_default_scenario_recipe_reads_back(catalog, fw):
    d = _deployment(catalog)
    _assert_same_plan(fw, emit_recipe(d, fw, catalog), d)


def test_default_scenario_plan_flags_by_hand(catalog):
    # default: tp=4,dp=8,ep=32 over 32 x 910B2, 8 per Atlas 800I A2 node -> 4 nodes
    text = emit_recipe(_deployment(catalog), "sglang", catalog)
    first = _pools(text)[0]["nodes"][0]
    assert first["--tp-size"] == "32" and first["--dp-size"] == "8"
    assert first["--ep-size"] == "32" and "--enable-dp-attention" in first
    assert first["--device"] == "npu" and first["--nnodes"] == "4"
    vl = _pools(emit_recipe(_deployment(catalog), "vllm-ascend", catalog))[0]["nodes"]
    # 4 DP ranks of tp=4 on 8-NPU nodes: 2 per node, node k starts at rank 2k
    assert [n["--data-parallel-size-local"] for n in vl] == ["2"] * 4
    assert [n.get("--data-parallel-start-rank") for n in vl] == [None, "2", "4", "6"]
    assert "--headless" not in vl[0] and all("--headless" in n for n in vl[1:])


def test_speculative_and_dense_replicas(catalog):
    d = _deployment(catalog, speculative={"method": "mtp", "draft_tokens": 2})
    text = emit_recipe(d, "vllm-ascend", catalog)
    assert '\'{"method":"deepseek_mtp","num_speculative_tokens":2}\'' in text
    sg = _pools(emit_recipe(d, "sglang", catalog))[0]["nodes"][0]
    assert sg["--speculative-algorithm"] == "EAGLE"
    assert (sg["--speculative-num-steps"], sg["--speculative-num-draft-tokens"]) == ("2", "3")
    tiny = deploy(read_scenario("tiny", catalog), catalog)
    pools = _pools(emit_recipe(tiny, "vllm", catalog))
    assert pools[0]["head"]["replicas"] == "2" and len(pools[0]["nodes"]) == 1
    assert "--no-enable-chunked-prefill" in pools[0]["nodes"][0]
    _assert_same_plan("vllm", emit_recipe(tiny, "vllm", catalog), tiny)
    _assert_same_plan("sglang", emit_recipe(tiny, "sglang", catalog), tiny)


def test_unlaunchable_plans_name_the_flag(catalog):
    d = _deployment(catalog, plan="tp=4,dp=8,ep=8")
    with pytest.raises(AccelsimError, match="--enable-expert-parallel"):
        emit_recipe(d, "vllm-ascend", catalog)
    assert "--ep-size 8" in emit_recipe(d, "sglang", catalog)
    static = _deployment(catalog, scheduler={"policy": "static", "batch_size": 8})
    for fw in ("vllm-ascend", "sglang"):
        with pytest.raises(AccelsimError, match="static"):
            emit_recipe(static, fw, catalog)
    with pytest.raises(AccelsimError, match="vllm-ascend"):
        emit_recipe(_deployment(catalog), "vllm", catalog)
    with pytest.raises(AccelsimError, match="expected one of"):
        emit_recipe(_deployment(catalog), "tgi", catalog)


def test_unlaunchable_rule_by_hand():
    assert unlaunchable("vllm", ParallelPlan(tp=4, dp=4, ep=16), moe=True) is None
    assert unlaunchable("vllm", ParallelPlan(tp=4, dp=4, ep=1), moe=True) is None
    assert "--enable-expert-parallel" in unlaunchable(
        "vllm", ParallelPlan(tp=4, dp=4, ep=4), moe=True
    )
    assert unlaunchable("vllm", ParallelPlan(tp=4, dp=4, ep=4), moe=False) is None
    assert "lm_head_tp" in unlaunchable("vllm", ParallelPlan(tp=2, dp=4, ep=8, lm_head_tp=8), True)
    assert unlaunchable("sglang", ParallelPlan(tp=2, dp=4, ep=8, lm_head_tp=8), True) is None
    assert "--enable-dp-lm-head" in unlaunchable(
        "sglang", ParallelPlan(tp=2, dp=8, ep=16, lm_head_tp=4), True
    )
    plans = [ParallelPlan(tp=4, dp=4, ep=e) for e in (1, 4, 16)]
    ok, out = partition_launchable(plans, lambda p: [p], "vllm", True)
    assert [p.ep for p in ok] == [1, 16] and [p.ep for p, _ in out] == [4]
    with pytest.raises(AccelsimError):
        unlaunchable("tgi", plans[0], True)


# ---- the stored option lists ---------------------------------------------------------------


def test_option_lists_name_their_version_and_source():
    for fw in OPTION_FILES:
        opts = option_list(fw)
        assert opts.version and opts.flags
        assert "--tensor-parallel-size" in opts.flags
    assert option_list("sglang").flags["--disaggregation-mode"] == ("null", "prefill", "decode")
    assert (
        "MooncakeConnectorV1"
        in option_list("vllm-ascend").values["kv_transfer_config.kv_connector"]
    )
    with pytest.raises(AccelsimError, match="no option --tp-size"):
        option_list("vllm").check("--tp-size")
    option_list("vllm").check("--no-enable-chunked-prefill")
    with pytest.raises(AccelsimError, match="not one of"):
        option_list("sglang").check("--speculative-algorithm", "MEDUSA")


def test_every_emitted_flag_is_documented(catalog):
    d = _deployment(catalog)
    for fw in ("sglang", "vllm-ascend"):
        opts = option_list(fw)
        for pool in _pools(emit_recipe(d, fw, catalog)):
            for node in pool["nodes"]:
                for flag in node:
                    opts.check(flag)


def test_cli_emit_bad_format_is_one_line(capsys):
    code, _, err = run_cli(capsys, "tune", "default", "--cards", "32", "--emit", "tgi")
    assert code == 2 and "--emit 'tgi'" in err and "Traceback" not in err


# ---- goldens (this test's own; regenerate with ACCELSIM_REGEN_GOLDEN=1) ---------------------


@pytest.mark.parametrize("fw", RECIPE_FORMATS)
def test_recipe_golden(catalog, fw):
    d = deploy(read_scenario("tiny", catalog), catalog) if fw != "vllm-ascend" else None
    d = d or _deployment(catalog)
    got = emit_recipe(d, fw, catalog)
    path = GOLDEN / f"{fw}.sh"
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
    assert got == path.read_text(), f"{fw} recipe changed; ACCELSIM_REGEN_GOLDEN=1 if intended"


def test_run_emit_prints_the_scenarios_recipe(capsys, catalog):
    code, out, err = run_cli(capsys, "run", "default", "--emit", "vllm-ascend")
    assert code == 0, err
    assert out == emit_recipe(_deployment(catalog), "vllm-ascend", catalog)


def test_k8s_manifest_reads_back(catalog):
    d = _deployment(catalog)
    docs = [x for x in yaml.safe_load_all(emit_recipe(d, "k8s", catalog)) if x]
    (lws,) = docs
    assert lws["kind"] == "LeaderWorkerSet" and lws["spec"]["replicas"] == 1
    tpl = lws["spec"]["leaderWorkerTemplate"]
    assert tpl["size"] == 4  # 32 ranks on 8-NPU nodes
    for role in ("leaderTemplate", "workerTemplate"):
        (container,) = tpl[role]["spec"]["containers"]
        assert container["resources"]["limits"] == {"huawei.com/Ascend910": 8}
        words = shlex.split(container["args"][0].replace("\\\n", " "))
        flags = {w: words[i + 1] if i + 1 < len(words) else None for i, w in enumerate(words)}
        assert _plan_back("vllm-ascend", flags, 1) == ParallelPlan(tp=4, dp=8, ep=32)
    worker = tpl["workerTemplate"]["spec"]["containers"][0]["args"][0]
    assert "--data-parallel-start-rank $((LWS_WORKER_INDEX*2))" in worker
    tiny = deploy(read_scenario("tiny", catalog), catalog)
    (one,) = [x for x in yaml.safe_load_all(emit_recipe(tiny, "k8s", catalog)) if x]
    assert one["spec"]["replicas"] == 2 and one["spec"]["leaderWorkerTemplate"]["size"] == 1
    assert "leaderTemplate" not in one["spec"]["leaderWorkerTemplate"]


def test_disaggregated_pools_read_back(catalog):
    pools = {
        "prefill": {"cards": 16, "plan": "tp=4,dp=4,ep=16"},
        "decode": {"cards": 16, "plan": "tp=2,dp=8,ep=16", "scheduler": {"max_seqs": 128}},
    }
    d = _deployment(catalog, plan=None, disaggregation=pools)
    for fw in ("vllm-ascend", "sglang"):
        text = emit_recipe(d, fw, catalog)
        _assert_same_plan(fw, text, d)
        assert "# P/D:" in text
    decode = _pools(emit_recipe(d, "vllm-ascend", catalog))[1]["nodes"][0]
    assert json.loads(decode["--kv-transfer-config"])["kv_role"] == "kv_consumer"
    assert decode["--max-num-seqs"] == "128"
