"""The per-query gather of the indexer's top-k entries in sparse decode attention
(``accelsim.model.perf.sparse``, issue 14 wave 5 A4).

Each query token of a sequence (1 + MTP draft tokens) gathers its own top-k entries, so the
top-k part of a decode step's KV bytes grows with the query tokens per sequence, while the
sliding window and the HCA entries are read once per sequence (cann-recipes-infer's V3.2 and V4
inference guides, section MTP: Sparse Flash Attention's KV moved doubles with MTP1, MLA's
does not). The expected bytes are written out from the ``config.json`` numbers: V3.2 caches
576 latent elements per token (512 + 64 RoPE), top-k 2048; V4-Flash 512 elements per entry,
CSA top-k 512 over ``context / 4`` compressed entries, window 128. BF16 KV: 2 bytes.

Each test holds the group's token count fixed and changes only ``q_per_seq``, so the
projections and the elementwise kernels read the same bytes and the difference is the gather.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import Catalog, load_catalog
from accelsim.dtypes import precision
from accelsim.model.perf.ops import Group, Ops
from accelsim.model.perf.roofline import Rates, Roofline
from accelsim.model.perf.sparse import SparseAttention

SEQS = 16
TOKENS = 64.0  # the same in every group compared, so only the gather differs


def _attention_bytes(cat: Catalog, model: str, ratio: int, context: int, q: float) -> float:
    m, card, prec = cat.model(model), cat.device("ascend-910c"), precision("bf16")
    roof = Roofline(Rates.of(card, prec), prec, m.hidden_size)
    ops = Ops()
    g = Group(TOKENS, SEQS, SEQS * context, q, 0.0, 0.0, 0.0, 0.0)
    SparseAttention(m, 1, prec, roof, ratio).add(ops, g)
    return ops.b["attention"]


def test_v32_mtp3_gathers_top_k_four_times(catalog: Catalog) -> None:
    one = _attention_bytes(catalog, "deepseek-v3.2", 0, 8192, 1.0)
    four = _attention_bytes(catalog, "deepseek-v3.2", 0, 8192, 4.0)
    # 3 more queries x 2,048 entries x 16 sequences x 576 elements x 2 B
    assert four - one == 3 * 2048 * SEQS * 576 * 2


def test_v32_short_context_gathers_the_whole_context(catalog: Catalog) -> None:
    one = _attention_bytes(catalog, "deepseek-v3.2", 0, 1000, 1.0)
    two = _attention_bytes(catalog, "deepseek-v3.2", 0, 1000, 2.0)
    assert two - one == 1 * 1000 * SEQS * 576 * 2  # context below top-k: every entry


def test_v4_csa_gathers_per_query_window_and_hca_do_not(catalog: Catalog) -> None:
    csa = [_attention_bytes(catalog, "deepseek-v4-flash", 4, 32768, q) for q in (1.0, 2.0)]
    # 1 more query x min(32,768 / 4, 512) x 16 sequences x 512 elements x 2 B
    assert csa[1] - csa[0] == 512 * SEQS * 512 * 2
    for ratio in (0, 128):  # sliding window only; HCA: window + every compressed entry
        pair = [_attention_bytes(catalog, "deepseek-v4-flash", ratio, 32768, q) for q in (1, 2)]
        assert pair[1] == pair[0]


_CAT = load_catalog()


@settings(max_examples=25, deadline=None)
@given(context=st.integers(1, 40_000), drafts=st.integers(0, 3))
def test_gathered_bytes_linear_in_queries(context: int, drafts: int) -> None:
    base = _attention_bytes(_CAT, "deepseek-v3.2", 0, context, 1.0)
    more = _attention_bytes(_CAT, "deepseek-v3.2", 0, context, 1.0 + drafts)
    assert more - base == drafts * min(context, 2048) * SEQS * 576 * 2
