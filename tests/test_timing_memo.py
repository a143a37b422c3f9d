"""The process-level memo of timing models (``accelsim.sweep.timing_memo``) and the lanes that
keep one caller's runs on one worker (``accelsim.sweep.lanes``): shared models, the same
figures to the last bit."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import pytest

from accelsim.catalog.loader import with_overrides
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.plan import parse_plan
from accelsim.questions.sizing import size_devices
from accelsim.run.resolve import deploy, load_scenario
from accelsim.run.simulate import run_scenario
from accelsim.run.timing import perf_model_from_catalog
from accelsim.sweep.context import Task
from accelsim.sweep.lanes import Lanes
from accelsim.sweep.replicate import Replicator
from accelsim.sweep.timing_memo import shared_deployment
from accelsim.sweep.worker import run_task


@pytest.fixture(scope="module")
def tiny(catalog):
    return load_scenario("tiny", catalog)


def _figures(summary) -> dict:
    return {k: v for k, v in summary.as_dict().items() if k != "wall_s"}


BATCHES = [
    BatchStats(1, 100.0),
    BatchStats(37, 40_000.0),
    BatchStats(8, 9_000.0, 2, 3_000, 1.5e6, 4_000.0),
    BatchStats(0, 0.0, 1, 512, 131_328.0, 0.0),
]


@pytest.mark.parametrize(
    ("model", "device", "plan", "dtype"),
    [
        ("llama-2-70b", "a100-sxm4-80gb", "tp=4,pp=2", "bf16"),
        ("deepseek-v3", "h100-sxm5", "tp=1,dp=16,ep=16", "fp8"),
        ("mixtral-8x7b", "ascend-910b2", "tp=2,ep=2", "bf16"),
        ("deepseek-v4-flash", "h200", "tp=1,dp=8,ep=8", "fp8"),
    ],
)
def test_the_timing_model_never_reads_the_replica_count(catalog, model, device, plan, dtype):
    """What lets one model serve every size of a shape: the same figures, to the last bit,
    whatever the plan's ``replicas``."""
    one = parse_plan(plan)
    prec = precision(dtype)
    a = perf_model_from_catalog(catalog, model, device, one, prec)
    b = perf_model_from_catalog(catalog, model, device, replace(one, replicas=7), prec)
    for batch in BATCHES:
        assert a.iteration_work(batch) == b.iteration_work(batch)
        assert a.step(batch) == b.step(batch)


def test_one_model_serves_every_seed_and_replica_count(catalog, tiny):
    base = shared_deployment(tiny, catalog)
    other_seed = shared_deployment(tiny.model_copy(update={"seed": 9}), catalog)
    assert base.main.plan.replicas == 2
    three = replace(base.main.plan, replicas=3)
    bigger = shared_deployment(tiny.replanned(tiny.device, 3, three), catalog)
    assert bigger.main.plan.replicas == 3
    traffic = tiny.traffic_spec.model_copy(update={"rate": 35.0})
    faster = shared_deployment(tiny.model_copy(update={"traffic": traffic}), catalog)
    assert base.main.perf is other_seed.main.perf is bigger.main.perf is faster.main.perf
    # what the model is built from is in the key: another precision, another catalog
    int8 = shared_deployment(tiny.replanned(tiny.device, 2, base.main.plan, dtype="int8"), catalog)
    assert int8.main.perf is not base.main.perf
    what_if = with_overrides(catalog, ["device.a100-sxm4-80gb.hbm_bandwidth=1 TB/s"])
    assert shared_deployment(tiny, what_if).main.perf is not base.main.perf
    # a Deployment is used as it is
    dep = deploy(tiny, catalog)
    assert shared_deployment(dep, catalog) is dep


def test_a_shared_model_gives_the_fresh_models_figures(catalog, tiny):
    """Runs on a model other runs have warmed equal runs on a fresh one (``deploy``), to the
    last bit, iteration-model calls included."""
    traffic = tiny.traffic_spec.model_copy(update={"rate": 35.0})
    warm = [tiny.model_copy(update={"seed": 3}), tiny.model_copy(update={"traffic": traffic})]
    for sc in warm:
        run_scenario(shared_deployment(sc, catalog), catalog)
    for sc in (tiny, *warm):
        shared = run_scenario(shared_deployment(sc, catalog), catalog).summary
        fresh = run_scenario(deploy(sc, catalog), catalog).summary
        assert _figures(shared) == _figures(fresh)


def _toy(i: int) -> Task:
    return Task(
        digest=f"d{i}",
        index=i,
        seed=i,
        params={},
        scenario={"device": "dev", "cards": 4 + i},
        overrides={},
        evaluator="toy",
        require_fit=False,
    )


def test_lanes_keep_a_callers_tasks_on_one_process_and_agree_with_this_one():
    tasks = [_toy(i) for i in range(6)]
    here = {r["index"]: r["metrics"] for r in map(run_task, tasks)}
    with Lanes(2) as lanes:
        seen: list[int] = []
        spread = lanes.run(tasks, done=lambda r: seen.append(r["index"]))
        one = lanes.run(tasks, lane=3)  # modulo the lane count: lane 1
    assert sorted(seen) == list(range(6))
    for results in (spread, one):
        assert {r["index"]: r["metrics"] for r in results} == here
        assert all(r["worker"].rsplit(":", 1)[1] != str(os.getpid()) for r in results)
    assert len({r["worker"] for r in spread}) == 2
    assert len({r["worker"] for r in one}) == 1


def test_sizing_on_lanes_agrees_with_sizing_in_this_process(catalog, tiny):
    devices = ["a100-sxm4-80gb", "h100-sxm5"]
    with Replicator(catalog, workers=0) as rep:
        here = size_devices(tiny, catalog, devices, seeds=2, replicator=rep, max_cards=8)
    with Replicator(catalog, workers=2) as rep:
        laned = size_devices(tiny, catalog, devices, seeds=2, replicator=rep, max_cards=8)
    assert [s.as_dict() for s in laned] == [s.as_dict() for s in here]
    for a, b in zip(here, laned, strict=True):
        assert {r: _figures(run.summary) for r, run in a.runs.items()} == {
            r: _figures(run.summary) for r, run in b.runs.items()
        }


def test_cancelled_lanes_stop_a_waiting_caller_at_once():
    """Ctrl-C during ``compare``: the device searches waiting on their lanes stop now."""
    slow = replace(_toy(0), scenario={"device": "dev", "sleep": 30})
    errors: list[str] = []
    with Lanes(1) as lanes:

        def wait_on_it() -> None:
            try:
                lanes.run([slow])
            except AccelsimError as exc:
                errors.append(str(exc))

        caller = threading.Thread(target=wait_on_it)
        caller.start()
        time.sleep(0.3)
        lanes.cancel()
        caller.join(timeout=10)
        assert not caller.is_alive()
        with pytest.raises(AccelsimError, match="cancelled"):
            lanes.run([_toy(1)])
    assert errors == ["lanes: cancelled"]
