"""Expert-routing model: how a batch's token-to-expert assignments spread over EP ranks.

The timing model needs two numbers per MoE layer and EP rank: how many (token, expert)
assignments land on the rank (its *load*, which sets its grouped-GEMM FLOPs and its share of the
all-to-all) and how many of its local experts are touched at all (whose weights it must read).
The slowest rank sets the layer time, so the model returns per-rank vectors, not averages.

Popularity (``kind``), one distribution per MoE layer, ``layers`` independent draws averaged:

- ``uniform``: every expert equally likely (the "perfect EPLB" idealisation of the sources is
  random routing, i.e. this);
- ``zipf``: expert ``i`` of a per-layer random permutation has weight ``1 / i**skew``
  (``skew = 0`` is uniform; ~1 is a hot-expert regime);
- ``dirichlet``: weights drawn from ``Dirichlet(alpha = 1/skew)`` per layer (``skew = 0`` is
  uniform; larger skew, more concentration);
- ``counts``: measured per-expert token counts (one layer of ``E`` values, or ``n*E`` values
  for ``n`` layers), normalised.

From the popularity ``p`` the per-token selection probability of expert ``i`` is
``q_i = min(1, c * p_i)`` with ``c`` chosen so that ``sum(q) = top_k`` (top-k picks distinct
experts). A batch of ``T`` tokens then puts ``T * q_i`` expected assignments on expert ``i`` and
touches it with probability ``1 - (1 - q_i)**T``.

Placement: without redundant experts, expert ``i`` lives on rank ``i // ceil(E/ep)`` (static
contiguous placement, as in vLLM/SGLang without EPLB). With ``plan.redundant_experts = R > 0``
an EPLB-style balancer gives ``R`` extra copies to the experts with the highest load per copy,
splits each expert's tokens evenly over its copies, and packs copies onto ranks greedily
(largest first onto the least-loaded rank with a free slot) — DeepSeek's EPLB heuristic.

Group-limited routing (DeepSeek ``n_group``/``topk_group``) changes which *nodes* a token reaches
(the dispatch volume, see ``accelsim.model.perf``) but is treated like plain top-k for per-expert
load. MoGE (Pangu) picks exactly ``top_k / n_group`` experts in every group, so a rank holding
whole groups gets a deterministic load; within a group the load varies hypergeometrically.

Statistical spread: rank ``r``'s load is a sum over tokens of a bounded count with mean ``m_r``
per token; its variance is approximated hypergeometrically, ``m_r (1 - m_r/k) (E-k)/(E-1)`` per
token. The expected maximum over ``n`` ranks is ``max_r(T m_r + sd_r * g(n))`` with
``g(n) = Phi^-1((n - 0.375) / (n + 0.25))`` (Blom's expected maximum of ``n`` normals) — an
analytic approximation, checked against ``sample_rank_loads`` (Monte Carlo with a passed-in
``numpy.random.Generator``) in the tests.

Distinct local experts touched (whose weights a rank reads): slot ``j`` of rank ``r`` is touched
with probability ``t_j = 1 - (1 - q_j)**T``; the rank's count is taken as a sum of independent
Bernoulli(``t_j``) (a Poisson-binomial, computed exactly by convolution over the rank's slots),
and each rank is charged the expected maximum of ``n = ep`` independent copies of its count,
``sum_x (1 - F_r(x)**n)`` — the same "busiest of ``n``" reading as the load's spread term, so
that at a small decode batch the rank that reads the most expert weights sets the time, not the
mean rank (with ``E = 256, top_k = 8, ep = 32`` and 32 tokens the mean rank touches 5.1 of its 8
experts and the busiest about 7.5). Ignored: the weak negative correlation between slots (a
token's ``top_k`` picks are distinct) and between ranks; ``sample_touched`` (Monte Carlo) checks
the form in the tests.
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import dataclass

from accelsim.catalog.workloads import ModelArch, MoESpec
from accelsim.errors import AccelsimError
from accelsim.lazy import lazy_module

np = lazy_module("numpy")  # imported at first use: a dense model's `step` needs none

__all__ = [
    "HASH_HEAD_TOKENS",
    "HASH_TOKEN_ZIPF",
    "ROUTING_KINDS",
    "RankLoads",
    "RoutingModel",
    "busiest_touched",
    "expected_max_normal",
    "hash_routing",
]

ROUTING_KINDS = ("uniform", "zipf", "dirichlet", "counts")
#: Exponent of the token-frequency law a hash-routed layer's load follows: Zipf's law, the
#: frequency of the ``r``-th most frequent token ~ ``1 / r`` (Zipf 1949, *Human Behavior and the
#: Principle of Least Effort*; Piantadosi 2014, *Psychon. Bull. Rev.* 21:1112, for its fit to
#: word frequencies). A modelling assumption, not a fitted value.
HASH_TOKEN_ZIPF = 1.0
#: The most frequent tokens whose table rows are drawn one by one; the rest of the vocabulary
#: (each under 1/4096 of the head token's frequency) is spread evenly over the experts.
HASH_HEAD_TOKENS = 4096


@functools.lru_cache(maxsize=64)
def expected_max_normal(n: int) -> float:
    """Expected maximum of ``n`` independent standard normals (Blom's approximation)."""
    if n <= 1:
        return 0.0
    from scipy.special import ndtri  # its one scipy function: off the start-up path

    return float(ndtri((n - 0.375) / (n + 0.25)))


def _selection_probs(p: np.ndarray, k: int) -> np.ndarray:
    """Per-token probability of selecting each expert: ``min(1, c p)`` summing to ``k``."""
    q = np.zeros_like(p)
    free = np.ones(p.shape, dtype=bool)
    budget = float(k)
    for _ in range(p.size + 1):
        mass = p[free].sum()
        if mass <= 0:
            break
        scaled = p * (budget / mass)
        over = free & (scaled >= 1.0)
        if not over.any():
            q[free] = scaled[free]
            break
        q[over] = 1.0
        free &= ~over
        budget = k - float(q[~free].sum())
    return q


@dataclass(frozen=True)
class RankLoads:
    """Per-rank routing statistics of one batch, averaged over popularity draws.

    ``load`` / ``touched`` have shape ``(draws, ep)``: expected (token, expert) assignments
    including the statistical spread term, and distinct local experts touched as the busiest of
    ``ep`` ranks (see module docstring). ``slots`` is the expert slots per rank.
    """

    load: np.ndarray
    touched: np.ndarray
    slots: int

    @property
    def max_load(self) -> float:
        """Assignments on the busiest rank, averaged over draws."""
        return float(self.load.max(axis=1).mean())


@dataclass(frozen=True)
class RoutingModel:
    """Expert popularity and placement (see the module docstring); deterministic for ``seed``."""

    kind: str = "uniform"
    skew: float = 0.0
    counts: tuple[float, ...] | None = None
    seed: int = 0
    layers: int = 8
    drift: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ROUTING_KINDS:
            raise AccelsimError(
                f"routing kind {self.kind!r} unknown (choose from {', '.join(ROUTING_KINDS)})"
            )
        if self.skew < 0:
            raise AccelsimError("routing skew cannot be negative")
        if self.kind == "counts" and not self.counts:
            raise AccelsimError("routing kind 'counts' needs counts")
        if self.layers < 1:
            raise AccelsimError("routing layers must be at least 1")
        if self.drift < 0:
            raise AccelsimError("routing drift cannot be negative")

    @property
    def label(self) -> str:
        out = self.kind
        if self.kind in ("zipf", "dirichlet"):
            out = f"{self.kind}(skew={self.skew:g})"
        if self.drift:
            out += f"+drift {self.drift:g}"
        return out

    # ---- popularity ---------------------------------------------------------------------
    def popularity(self, num_experts: int) -> np.ndarray:
        """Expert popularity per draw, shape ``(draws, E)``, rows summing to 1."""
        return _popularity(self, num_experts)

    def selection(self, moe: MoESpec) -> np.ndarray:
        """Per-token selection probabilities ``q`` per draw, shape ``(draws, E)``."""
        return _selection(self, moe)

    # ---- statistics the timing model uses -----------------------------------------------
    def expected_touched_experts(self, model: ModelArch | MoESpec, tokens: float) -> float:
        """Expected distinct experts (of one MoE layer) a batch of ``tokens`` touches.

        Uniform: ``E * (1 - (1 - k/E)**T)``.
        """
        moe = _moe(model)
        if tokens <= 0:
            return 0.0
        q = self.selection(moe)
        return float((1.0 - (1.0 - q) ** tokens).sum(axis=1).mean())

    def rank_loads(
        self, model: ModelArch | MoESpec, ep: int, redundant: int, tokens: float
    ) -> RankLoads:
        """Per-rank load and touched experts for ``tokens`` tokens over ``ep`` ranks."""
        return _rank_loads(self, _moe(model), int(ep), int(redundant), float(tokens))

    def work_per_count(self, model: ModelArch | MoESpec, ep: int, redundant: int) -> int:
        """Numbers ``rank_loads_many`` carries per token count (the rows of the touched-experts
        recursion times their length): a caller sizes its blocks of counts with it."""
        terms = _rank_terms(self, _moe(model), int(ep), int(redundant))
        rows = 1 if terms.same_rows else terms.mean.size
        return rows * (terms.slots + 1)

    def rank_loads_many(
        self, model: ModelArch | MoESpec, ep: int, redundant: int, tokens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``rank_loads``'s ``(load, touched)`` for each token count of ``tokens`` at once,
        shape ``(len(tokens), draws, ep)``: the same floats as one call per count."""
        terms = _rank_terms(self, _moe(model), int(ep), int(redundant))
        tokens = np.asarray(tokens, dtype=float)
        live = tokens > 0
        if live.all():
            return _rank_loads_many(terms, tokens)
        load = np.zeros((tokens.size, *terms.mean.shape))
        touched = np.zeros_like(load)
        if live.any():
            load[live], touched[live] = _rank_loads_many(terms, tokens[live])
        return load, touched

    def max_rank_load(self, model: ModelArch | MoESpec, plan, tokens: float) -> float:
        """Expected (token, expert) assignments on the busiest EP rank of ``plan``."""
        return self.rank_loads(model, plan.ep, plan.redundant_experts, tokens).max_load

    def sample_rank_loads(
        self,
        model: ModelArch | MoESpec,
        ep: int,
        redundant: int,
        tokens: int,
        rng: np.random.Generator,
        trials: int = 16,
    ) -> np.ndarray:
        """Monte Carlo: sampled busiest-rank load per trial (each trial one popularity draw,
        ``tokens`` tokens each choosing ``top_k`` distinct experts). For checking the analytic
        approximation; plain top-k (group limits ignored), MoGE honoured."""
        moe = _moe(model)
        slot_q, slot_expert, slot_share = _placement(self, moe, ep, redundant)
        draws = slot_q.shape[0]
        e = moe.num_experts
        out = np.empty(trials)
        p_all = _batch_popularity(self, e)
        for t in range(trials):
            d = t % draws
            p = p_all[d]
            if moe.routing == "moge":
                g = moe.n_group
                per = e // g
                kg = moe.top_k // g
                keys = rng.gumbel(size=(tokens, g, per)) + np.log(
                    np.maximum(p.reshape(g, per), 1e-300)
                )
                top = np.argsort(-keys, axis=2)[:, :, :kg]
                chosen = (top + (np.arange(g) * per)[None, :, None]).reshape(tokens, -1)
            else:
                keys = rng.gumbel(size=(tokens, e)) + np.log(np.maximum(p, 1e-300))
                chosen = np.argpartition(-keys, moe.top_k - 1, axis=1)[:, : moe.top_k]
            per_expert = np.bincount(chosen.ravel(), minlength=e).astype(float)
            # split each expert's tokens over its copies as the placement does
            rank_load = (per_expert[slot_expert[d]] * slot_share[d]).sum(axis=1)
            out[t] = rank_load.max()
        return out

    def sample_touched(
        self,
        model: ModelArch | MoESpec,
        ep: int,
        tokens: int,
        rng: np.random.Generator,
        trials: int = 16,
    ) -> np.ndarray:
        """Monte Carlo: sampled most distinct local experts touched on any rank, per trial
        (static placement, ``tokens`` tokens each choosing ``top_k`` distinct experts; plain
        top-k). For checking ``busiest_touched``."""
        moe = _moe(model)
        e, k = moe.num_experts, moe.top_k
        slots = max(1, math.ceil(e / ep))
        p_all = _batch_popularity(self, e)
        out = np.empty(trials)
        for t in range(trials):
            p = p_all[t % p_all.shape[0]]
            keys = rng.gumbel(size=(tokens, e)) + np.log(np.maximum(p, 1e-300))
            chosen = np.argpartition(-keys, k - 1, axis=1)[:, :k]
            hit = np.zeros(e, dtype=bool)
            hit[chosen.ravel()] = True
            out[t] = np.bincount(np.flatnonzero(hit) // slots, minlength=ep).max()
        return out


def hash_routing(
    moe: MoESpec, vocab_size: int, layers: int, seed: int = 0, zipf: float = HASH_TOKEN_ZIPF
) -> RoutingModel:
    """The routing of ``layers`` hash-routed MoE layers (DeepSeek-V4 ``num_hash_layers``: a fixed
    table sends token id ``v`` to ``top_k`` experts, whatever the router would score).

    An expert's load is then the frequency of the tokens its table rows hold, not a learned
    balance: ``p_i = sum_v f_v [i in table(v)] / top_k`` with ``f_v ~ 1 / rank(v)**zipf`` over
    the vocabulary. The checkpoint's table is not modelled entry by entry: each layer's is
    drawn uniformly (distinct experts per token, seeded), one row per head token
    (``HASH_HEAD_TOKENS``), the tail's mass spread evenly. A frequent token puts its whole
    frequency on the same ``top_k`` experts of every batch, so the busiest experts carry
    several times the mean; the result is a ``counts`` routing model of one row per layer,
    which EPLB placement (``plan.redundant_experts``) balances like any measured load."""
    e, k = moe.num_experts, moe.top_k
    rng = np.random.default_rng(seed + 104_729)
    f = 1.0 / np.arange(1, vocab_size + 1, dtype=float) ** zipf
    f /= f.sum()
    head = min(HASH_HEAD_TOKENS, vocab_size)
    tail = float(f[head:].sum())
    rows = []
    for _ in range(layers):
        chosen = np.argpartition(rng.random((head, e)), k - 1, axis=1)[:, :k]
        load = np.bincount(chosen.ravel(), weights=np.repeat(f[:head], k), minlength=e)
        rows.append(load + tail * k / e)
    counts = tuple(float(x) for x in np.concatenate(rows))
    return RoutingModel(kind="counts", counts=counts, seed=seed, layers=max(layers, 1))


def _moe(model: ModelArch | MoESpec) -> MoESpec:
    moe = model.moe if isinstance(model, ModelArch) else model
    if moe is None:
        raise AccelsimError(f"model {getattr(model, 'name', '?')!r} has no experts to route")
    return moe


@functools.lru_cache(maxsize=256)
def _popularity(r: RoutingModel, e: int) -> np.ndarray:
    rng = np.random.default_rng(r.seed)
    if r.kind == "uniform" or (r.kind in ("zipf", "dirichlet") and r.skew == 0):
        return np.full((1, e), 1.0 / e)
    if r.kind == "zipf":
        base = 1.0 / np.arange(1, e + 1) ** r.skew
        rows = np.stack([base[rng.permutation(e)] for _ in range(r.layers)])
    elif r.kind == "dirichlet":
        rows = rng.dirichlet(np.full(e, 1.0 / r.skew), size=r.layers)
        rows = np.maximum(rows, 1e-12)
    else:  # counts
        c = np.asarray(r.counts, dtype=float)
        if c.size % e or np.any(c < 0) or c.sum() <= 0:
            raise AccelsimError(
                f"routing counts: {c.size} values do not form rows of {e} non-negative counts"
            )
        rows = c.reshape(-1, e) + 1e-12
    rows = rows / rows.sum(axis=1, keepdims=True)
    rows.setflags(write=False)
    return rows


@functools.lru_cache(maxsize=256)
def _selection(r: RoutingModel, moe: MoESpec) -> np.ndarray:
    p = _popularity(r, moe.num_experts)
    q = np.stack([_row_selection(row, moe) for row in p])
    q.setflags(write=False)
    return q


@functools.lru_cache(maxsize=256)
def _batch_popularity(r: RoutingModel, e: int) -> np.ndarray:
    """Popularity of the batches being priced: the long-run rows, each expert's weight
    multiplied by ``exp(drift * Z)`` (``Z`` standard normal, seeded) when ``drift > 0`` — the
    part of a batch's popularity that an EPLB placement built on history does not see."""
    p = _popularity(r, e)
    if r.drift <= 0:
        return p
    rng = np.random.default_rng(r.seed + 7919)
    draws = max(p.shape[0], r.layers)
    rows = np.stack(
        [p[d % p.shape[0]] * np.exp(r.drift * rng.standard_normal(e)) for d in range(draws)]
    )
    rows = rows / rows.sum(axis=1, keepdims=True)
    rows.setflags(write=False)
    return rows


@functools.lru_cache(maxsize=256)
def _batch_selection(r: RoutingModel, moe: MoESpec) -> np.ndarray:
    """Per-token selection probabilities of the priced batches, shape ``(draws, E)``."""
    if r.drift <= 0:
        return _selection(r, moe)
    out = np.stack([_row_selection(row, moe) for row in _batch_popularity(r, moe.num_experts)])
    out.setflags(write=False)
    return out


def _row_selection(row: np.ndarray, moe: MoESpec) -> np.ndarray:
    if moe.routing == "moge":
        g = moe.n_group
        per = moe.num_experts // g
        kg = moe.top_k // g
        parts = [row[i * per : (i + 1) * per] for i in range(g)]
        return np.concatenate([_selection_probs(x / x.sum(), kg) for x in parts])
    return _selection_probs(row, moe.top_k)


@functools.lru_cache(maxsize=256)
def _placement(
    r: RoutingModel, moe: MoESpec, ep: int, redundant: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slots per rank: ``(slot_q, slot_expert, slot_share)``, each ``(draws, ep, slots)``.

    ``slot_q`` is the per-token probability that the slot's copy receives the token,
    ``slot_share`` the fraction of its expert's tokens it receives (0 for empty slots).
    """
    e = moe.num_experts
    q = _selection(r, moe)
    slots = max(1, math.ceil((e + redundant) / ep))
    draws = q.shape[0]
    slot_expert = np.zeros((draws, ep, slots), dtype=np.int64)
    slot_share = np.zeros((draws, ep, slots))
    for d in range(draws):
        if redundant <= 0:
            for i in range(e):
                rank, s = divmod(i, slots) if ep <= e else (i, 0)
                slot_expert[d, rank, s] = i
                slot_share[d, rank, s] = 1.0
            continue
        copies = np.ones(e, dtype=np.int64)
        load = q[d]
        heap = [(-load[i], i) for i in range(e)]
        heapq.heapify(heap)
        for _ in range(min(redundant, ep * slots - e)):
            _, i = heapq.heappop(heap)
            copies[i] += 1
            heapq.heappush(heap, (-load[i] / copies[i], i))
        items = sorted(
            ((load[i] / copies[i], i) for i in range(e) for _ in range(copies[i])), reverse=True
        )
        rank_load = np.zeros(ep)
        used = np.zeros(ep, dtype=np.int64)
        for w, i in items:
            open_ranks = np.flatnonzero(used < slots)
            rank = int(open_ranks[np.argmin(rank_load[open_ranks])])
            slot_expert[d, rank, used[rank]] = i
            slot_share[d, rank, used[rank]] = 1.0 / copies[i]
            used[rank] += 1
            rank_load[rank] += w
    qb = _batch_selection(r, moe)
    if qb.shape[0] != draws:  # drift draws more batches than there are layer distributions
        reps = qb.shape[0] // draws
        slot_expert = np.tile(slot_expert, (reps, 1, 1))
        slot_share = np.tile(slot_share, (reps, 1, 1))
        draws = qb.shape[0]
    slot_q = qb[np.arange(draws)[:, None, None], slot_expert] * slot_share
    for arr in (slot_q, slot_expert, slot_share):
        arr.setflags(write=False)
    return slot_q, slot_expert, slot_share


def _per_token_variance(moe: MoESpec, slot_q: np.ndarray, slot_share: np.ndarray) -> np.ndarray:
    """Variance of one token's assignment count on each rank, shape ``(draws, ep)``."""
    m = slot_q.sum(axis=2)
    if moe.routing == "moge":
        g = moe.n_group
        per = moe.num_experts // g
        kg = moe.top_k // g
        if per <= 1:
            return np.zeros_like(m)
        # a rank holding whole groups has a deterministic count; approximate each rank by the
        # fraction f of one group it holds (f >= 1 -> whole groups -> 0 variance)
        f = np.minimum(slot_share.sum(axis=2) / per, 1.0)
        return np.maximum(kg * f * (1.0 - f) * (per - kg) / (per - 1), 0.0)
    e, k = moe.num_experts, moe.top_k
    if e <= 1:
        return np.zeros_like(m)
    return np.maximum(m * (1.0 - m / k) * (e - k) / (e - 1), 0.0)


def busiest_touched(p: np.ndarray, n: int) -> np.ndarray:
    """Expected maximum over ``n`` independent copies of a sum of independent Bernoulli
    variables with probabilities ``p[..., j]`` (one per slot), shape ``p.shape[:-1]``.

    The sum's distribution (Poisson-binomial) is built by convolving one slot at a time (exact);
    the expected maximum of ``n`` copies is ``sum_{x=0}^{s-1} (1 - F(x)**n)``. ``n = 1`` is the
    mean, ``sum(p)``.
    """
    if n <= 1 or (p >= 1.0).all():
        return p.sum(axis=-1)
    s = p.shape[-1]
    # the sum does not depend on the order of its slots: when every row agrees once sorted
    # (every rank of a uniform popularity) it is priced once
    rows = np.sort(p.reshape(-1, s), axis=1)
    back = np.arange(rows.shape[0])
    if (rows == rows[:1]).all():
        rows, back = rows[:1], np.zeros_like(back)
    return _busiest_rows(rows, n)[back].reshape(p.shape[:-1])


def _busiest_rows(rows: np.ndarray, n: int) -> np.ndarray:
    """``busiest_touched`` of each row of ``rows`` (shape ``(rows, s)``, ``n > 1``); a row's
    figure is the same whatever the other rows: each step is elementwise or along the row (the
    recursion runs on the transpose, one contiguous vector per slot, which changes no float;
    the closing sum runs on the ``(rows, s)`` layout, the order numpy sums a row in)."""
    s, count = rows.shape[1], rows.shape[0]
    hit = np.ascontiguousarray(rows.T)
    miss = 1.0 - hit
    pmf = np.zeros((s + 1, count))
    pmf[0] = 1.0
    for j in range(s):
        # after j slots only the counts 0..j can be non-zero: the terms beyond (0 * q + 0 * p)
        # stay exactly 0, so they are not recomputed
        pmf[1 : j + 2] = pmf[1 : j + 2] * miss[j] + pmf[: j + 1] * hit[j]
        pmf[0] *= miss[j]
    cdf = np.clip(np.cumsum(pmf[:-1], axis=0), 0.0, 1.0)
    return np.ascontiguousarray((1.0 - cdf**n).T).sum(axis=1)


@dataclass(frozen=True)
class _RankTerms:
    """The token-independent terms of ``rank_loads`` for one (routing, MoE, ep, redundant):
    per-rank mean and variance of one token's assignments, the slot caps, the per-slot
    probability that a token misses the slot, and ``g(ep)``."""

    mean: np.ndarray  # (draws, ep): one token's expected assignments on the rank
    var: np.ndarray  # (draws, ep): their variance (``_per_token_variance``)
    cap: np.ndarray  # (draws, ep): occupied slots (at most one assignment each per token)
    held: np.ndarray  # (draws, ep): the rank holds at least one expert copy
    miss: np.ndarray  # (draws, ep, slots): ``1 - slot_q``
    g: float  # ``expected_max_normal(ep)``
    ep: int
    slots: int
    #: every rank's slots are the same multiset in every draw (a uniform popularity without
    #: redundant copies): its touched figure is then one row per token count
    same_rows: bool


@functools.lru_cache(maxsize=256)
def _rank_terms(r: RoutingModel, moe: MoESpec, ep: int, redundant: int) -> _RankTerms:
    slot_q, _, slot_share = _placement(r, moe, ep, redundant)
    slots = slot_q.shape[2]
    ordered = np.sort(slot_q.reshape(-1, slots), axis=1)
    return _RankTerms(
        mean=slot_q.sum(axis=2),
        var=_per_token_variance(moe, slot_q, slot_share),
        cap=(slot_share > 0).sum(axis=2),
        held=slot_share.sum(axis=2) > 0,
        miss=1.0 - slot_q,
        g=expected_max_normal(ep),
        ep=ep,
        slots=slots,
        same_rows=bool((ordered == ordered[:1]).all()),
    )


def _rank_loads_many(terms: _RankTerms, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(load, touched)`` of ``rank_loads`` for each token count of ``tokens`` (shape
    ``(n,)``, each > 0), shape ``(n, draws, ep)``: the figures of one ``rank_loads`` call per
    count, to the last bit (the steps are elementwise, or along a rank's slots, and the power
    is taken per count with the count as a scalar, as a single call takes it)."""
    t = tokens[:, None, None]
    mean = t * terms.mean
    sd = np.sqrt(t * terms.var)
    load = mean + sd * terms.g
    # the spread term cannot put more than one assignment per token per local slot
    load = np.minimum(load, t * terms.cap)
    miss = terms.miss
    if terms.same_rows:  # one row per count stands for every rank (``busiest_touched``)
        miss = miss[:1, :1]
    p = np.empty((tokens.size, *miss.shape))
    for i, x in enumerate(tokens.tolist()):
        p[i] = 1.0 - miss**x
    if terms.ep <= 1:
        touched = p.sum(axis=-1)
    else:
        # a count whose slots are all certain to be touched: ``busiest_touched`` sums them
        full = (p >= 1.0).reshape(tokens.size, -1).all(axis=1)
        if full.all():
            touched = p.sum(axis=-1)
        else:
            touched = np.empty(p.shape[:-1])
            touched[full] = p[full].sum(axis=-1)
            part = p[~full]
            rows = np.sort(part.reshape(-1, terms.slots), axis=1)
            touched[~full] = _busiest_rows(rows, terms.ep).reshape(part.shape[:-1])
    return load, np.where(terms.held, touched, 0.0)


@functools.lru_cache(maxsize=4096)
def _rank_loads(r: RoutingModel, moe: MoESpec, ep: int, redundant: int, tokens: float) -> RankLoads:
    terms = _rank_terms(r, moe, ep, redundant)
    if tokens <= 0:
        zeros = np.zeros(terms.mean.shape)
        return RankLoads(zeros, zeros, terms.slots)
    load, touched = _rank_loads_many(terms, np.array([tokens]))
    load, touched = load[0], touched[0]
    load.setflags(write=False)
    touched.setflags(write=False)
    return RankLoads(load, touched, terms.slots)
