"""Perf models shared by the fast-path identity tests (``test_layer_table``, ``test_shape_table``):
one of each kind of model and plan the simulator's pricing paths must price to the last bit, and
the ``step`` breakdown's figures they are compared with."""

from __future__ import annotations

from accelsim.catalog.loader import load_catalog
from accelsim.dtypes import precision
from accelsim.model.batch import BatchStats
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.model import PerfModel
from accelsim.model.plan import ParallelPlan
from accelsim.run.timing import perf_model_from_catalog

CAT = load_catalog()

#: (model, device, plan, dtype, speculative decoding, framework)
CASES = {
    "llama70b-gqa-tp4": ("llama-2-70b", "a100-sxm4-80gb", ParallelPlan(tp=4), "fp16", None, None),
    "llama70b-tp2pp2": (
        "llama-2-70b",
        "a100-sxm4-80gb",
        ParallelPlan(tp=2, pp=2),
        "fp16",
        None,
        None,
    ),
    "llama7b-cp2": ("llama-2-7b", "h100-sxm5", ParallelPlan(cp=2), "bf16", None, None),
    "llama7b-eager-host": ("llama-2-7b", "ascend-910b3", ParallelPlan(), "bf16", None, "vllm"),
    "dsv3-mla-moe-dp8-mtp": (
        "deepseek-v3",
        "ascend-910b2",
        ParallelPlan(tp=4, dp=8, ep=32),
        "int8",
        SpecDecode("mtp", 1, 0.8),
        None,
    ),
    "dsv3-overlap": (
        "deepseek-v3",
        "h800",
        ParallelPlan(tp=1, dp=32, ep=32, micro_batch_overlap=True),
        "fp8",
        None,
        None,
    ),
    "qwen3-32b-eagle-draft": (
        "qwen3-32b",
        "h100-sxm5",
        ParallelPlan(tp=2),
        "bf16",
        SpecDecode("eagle3", 3, 0.7, draft_model="qwen3-32b-eagle3"),
        None,
    ),
    "dsv4-flash-compressed": ("deepseek-v4-flash", "h200", ParallelPlan(tp=8), "fp8", None, None),
}


def perf_model(name: str) -> PerfModel:
    model, device, plan, dtype, spec, framework = CASES[name]
    kw = {"framework": framework, "graph": "none"} if framework else {}
    return perf_model_from_catalog(CAT, model, device, plan, precision(dtype), spec=spec, **kw)


def from_step(pm: PerfModel, b: BatchStats) -> tuple[float, float, float]:
    step = pm.step(b)
    ranks = pm.plan.stage_ranks
    return step.total_s, sum(step.flops.values()) * ranks, sum(step.hbm_bytes.values()) * ranks
