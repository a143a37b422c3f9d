"""The replica-count search of ``accelsim.questions.sizing``: from the analytic start
(``_bracket``) it finds the size the doubling search from one replica (``_doubling``) finds,
whenever attainment is monotone, wherever the start is."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.questions.sizing import _bracket, _doubling
from accelsim.sweep.evaluators import poisson_ppf


class Oracle:
    """Sizes from ``need`` up pass (a monotone search space); records what was asked."""

    def __init__(self, need: int) -> None:
        self.need = need
        self.asked: list[int] = []

    def __call__(self, r: int) -> bool:
        self.asked.append(r)
        return r >= self.need


def test_the_doubling_search_by_hand():
    ok = Oracle(11)
    assert _doubling(ok, 1, 4096) == 11
    assert ok.asked == [1, 2, 4, 8, 16, 12, 10, 11]


def test_a_good_start_simulates_two_sizes():
    """The README's ``size`` line on the 910B2: the analytic model says 12, the simulator
    needs 12 — 12, then 11 (fails): two sizes instead of the doubling search's eight; with
    ``smallest`` (``compare``) one replica first."""
    ok = Oracle(12)
    assert _bracket(ok, 1, 4096, 12) == 12
    assert ok.asked == [12, 11]
    ok = Oracle(12)
    assert _bracket(ok, 1, 4096, 12, smallest=True) == 12
    assert ok.asked == [1, 12, 11]


def test_a_start_too_low_walks_up_by_doubling_distances():
    ok = Oracle(9)
    assert _bracket(ok, 1, 4096, 6) == 9
    assert ok.asked == [6, 7, 9, 8]
    ok = Oracle(9)
    assert _bracket(ok, 1, 4096, 6, smallest=True) == 9
    assert ok.asked == [1, 6, 7, 9, 8]


def test_a_start_too_high_walks_down_to_one_replica():
    # 12 passes, then 11, 9 and 5 (doubling distances); 5 - 8 is below one replica, which
    # comes next (and passes)
    ok = Oracle(1)
    assert _bracket(ok, 1, 4096, 12) == 1
    assert ok.asked == [12, 11, 9, 5, 1]
    ok = Oracle(4)  # 1 fails: bisection between 1 and 5, as the search with smallest does
    assert _bracket(ok, 1, 4096, 12) == 4
    assert ok.asked == [12, 11, 9, 5, 1, 3, 4]


def test_on_two_die_steps_every_size_is_a_multiple_of_the_step():
    ok = Oracle(14)
    assert _bracket(ok, 2, 64, 7) == 14
    assert all(r % 2 == 0 for r in ok.asked)


def test_nothing_attainable_up_to_the_largest_size():
    assert _bracket(Oracle(10_000), 1, 64, 40) is None
    assert _doubling(Oracle(10_000), 1, 64) is None


@given(
    need=st.integers(1, 600),
    start=st.integers(1, 700),
    step=st.sampled_from([1, 2]),
    max_steps=st.integers(1, 400),
    smallest=st.booleans(),
)
def test_the_bracket_finds_what_the_doubling_search_finds(need, start, step, max_steps, smallest):
    max_r = max_steps * step
    need = -(-need // step) * step
    start = -(-start // step) * step
    want = need if need <= max_r else None
    assert _doubling(Oracle(need), step, max_r) == want
    ok = Oracle(need)
    assert _bracket(ok, step, max_r, start, smallest=smallest) == want
    if smallest:
        assert ok.asked[0] == step  # the smallest deployment first
    else:
        assert ok.asked[0] == min(start, max_r)  # the start first
        full = Oracle(need)
        _bracket(full, step, max_r, start, smallest=True)
        if want is None or want > step:  # one replica fails: never a size the full
            assert set(ok.asked) <= set(full.asked)  # search skips
    assert all(step <= r <= max_r and r % step == 0 for r in ok.asked)


@settings(deadline=None)  # the first example imports scipy.stats
@given(mu=st.floats(1e-6, 5e4), q=st.sampled_from([0.5, 0.9, 0.99, 0.999]))
def test_the_poisson_quantile_is_scipys(mu, q):
    from scipy.stats import poisson

    assert poisson_ppf(q, mu) == float(poisson.ppf(q, mu))


def test_the_poisson_quantile_by_hand():
    # P(K <= 0) = e^-1 = 0.37 < 0.5 <= P(K <= 1) = 0.74: the median of Poisson(1) is 1
    assert poisson_ppf(0.5, 1.0) == 1.0
    assert poisson_ppf(0.3, 1.0) == 0.0
