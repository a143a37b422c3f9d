"""The local executor's task order (``accelsim.sweep.affinity``): a worker keeps to one replica
shape, every task is handed out exactly once, and the read-ahead is bounded."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sweep.affinity import AffinityQueue, affinity_key
from accelsim.sweep.context import Task
from accelsim.sweep.executors import LocalExecutor, SerialExecutor


def _task(i: int, shape: str, **scenario) -> Task:
    return Task(
        digest=f"d{i}",
        index=i,
        seed=i,
        params={},
        scenario={"device": shape, **scenario},
        overrides={},
        evaluator="toy",
    )


def _by_index(t: Task) -> str:
    return t.scenario["device"]


def test_key_ignores_run_fields_and_keeps_the_shape():
    a = _task(0, "h800", cards=16, plan="tp=4", seed=1, traffic={"rate": 2.0}, slo={"ttft": 1})
    b = _task(1, "h800", cards=16, plan="tp=4", seed=9, traffic={"rate": 7.0}, name="x")
    assert affinity_key(a) == affinity_key(b)
    assert affinity_key(a) != affinity_key(_task(2, "h800", cards=32, plan="tp=4"))
    assert affinity_key(a) != affinity_key(_task(3, "h800", cards=16, plan="tp=8"))
    assert affinity_key(a) != affinity_key(_task(4, "h20", cards=16, plan="tp=4"))
    other = Task(**{**a.__dict__, "overrides": {"h800.hbm_bw": "3 TB/s"}})
    assert affinity_key(a) != affinity_key(other)


def test_each_worker_keeps_its_shape_then_takes_a_new_one():
    # shapes A A A B B B C C, two workers that free alternately
    shapes = "AAABBBCC"
    q = AffinityQueue([_task(i, s) for i, s in enumerate(shapes)], 2, key=_by_index)
    order = [(w, q.next(w)) for w in (0, 1, 0, 1, 0, 1, 0, 1)]
    got = [(w, t.scenario["device"], t.index) for w, t in order if t is not None]
    # worker 0 runs A's three points, worker 1 B's; then each takes its next shape, C, whose
    # last point worker 1 shares (every shape left is worker 0's)
    assert got == [
        (0, "A", 0),
        (1, "B", 3),
        (0, "A", 1),
        (1, "B", 4),
        (0, "A", 2),
        (1, "B", 5),
        (0, "C", 6),
        (1, "C", 7),
    ]
    assert q.next(0) is None and q.next(1) is None


def test_a_worker_shares_the_largest_shape_from_its_end():
    q = AffinityQueue([_task(i, s) for i, s in enumerate("AAAAB")], 2, key=_by_index)
    assert q.next(0).index == 0  # A
    assert q.next(1).index == 4  # B: the first shape no other worker runs
    assert q.next(1).index == 3  # B is done; A is worker 0's: take A's last point
    assert q.next(0).index == 1
    assert [q.next(1).index, q.next(0)] == [2, None]


def test_read_ahead_is_bounded():
    pulled = []

    def tasks():
        for i in itertools.count():
            pulled.append(i)
            yield _task(i, "A")

    q = AffinityQueue(tasks(), 2, lookahead=3)
    for _ in range(10):
        q.next(0)
    assert len(pulled) <= 10 + 6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from("ABCD"), max_size=40),
    st.lists(st.integers(0, 2), min_size=1, max_size=200),
    st.integers(1, 4),
)
def test_every_task_is_handed_out_once(shapes, frees, lookahead):
    q = AffinityQueue(
        [_task(i, s) for i, s in enumerate(shapes)], 3, lookahead=lookahead, key=_by_index
    )
    got = []
    for w in itertools.chain(frees, itertools.cycle(range(3))):
        t = q.next(w)
        if t is None:
            if all(q.next(k) is None for k in range(3)):
                break
            continue
        got.append(t.index)
    assert sorted(got) == list(range(len(shapes)))


def test_local_executor_keeps_shapes_on_workers_and_equals_serial():
    tasks = [
        Task(
            digest=f"d{i}",
            index=i,
            seed=i,
            params={},
            scenario={"device": dev, "cards": 8, "traffic": {"rate": 1.0 + i}, "sleep": 0.02},
            overrides={},
            evaluator="toy",
        )
        for i, dev in enumerate(["dev-a"] * 6 + ["dev-b"] * 6)
    ]
    with LocalExecutor(2) as ex:
        pooled = {r["index"]: r for r in ex.run(tasks)}
    serial = {r["index"]: r for r in SerialExecutor().run(tasks)}
    assert {i: r["metrics"] for i, r in pooled.items()} == {
        i: r["metrics"] for i, r in serial.items()
    }
    # the first two points start on two workers, one shape each; a worker runs its own
    # shape's points from the front, and a worker that shares another's shape takes its points
    # from the end, so each shape's points run on its first worker form a leading run
    first = {dev: pooled[0 if dev == "dev-a" else 6]["worker"] for dev in ("dev-a", "dev-b")}
    assert first["dev-a"] != first["dev-b"]
    for dev, start in (("dev-a", 0), ("dev-b", 6)):
        mine = [t.index for t in tasks if t.scenario["device"] == dev]
        on_first = [i for i in mine if pooled[i]["worker"] == first[dev]]
        assert on_first == mine[: len(on_first)] and on_first[0] == start
