"""Catalog entries -> the timing model: ``perf_model_from_catalog`` looks up a card, its server
and fabrics, a model (and its EAGLE draft model) and a serving framework's profile, and builds
the ``accelsim.model.perf.model.PerfModel`` of one replica from them; ``host_dispatch`` turns the
profile's execution data and a launch line's graph settings into the replica's
``accelsim.model.perf.launch.HostDispatch``; ``routing_model`` turns a routing profile
(``workloads/routing/NAME.yaml``) into the ``RoutingModel`` the timing model prices.
"""

from __future__ import annotations

from accelsim.catalog.devices import FrameworkProfile
from accelsim.catalog.loader import Catalog
from accelsim.dtypes import Precision
from accelsim.errors import AccelsimError
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.launch import HostDispatch, capture_limit
from accelsim.model.perf.model import PerfModel
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

__all__ = ["host_dispatch", "perf_model_from_catalog", "routing_model"]


def routing_model(catalog: Catalog, name: str) -> RoutingModel:
    """The ``RoutingModel`` of routing profile ``name`` (``workloads/routing/NAME.yaml``)."""
    p = catalog.get("routing", name)
    return RoutingModel(kind=p.kind, skew=p.skew, drift=p.drift, seed=p.seed)


def host_dispatch(
    profile: FrameworkProfile | None,
    plan: ParallelPlan,
    *,
    graph: str | None = None,
    graph_max_tokens: int | None = None,
    max_seqs: int | None = None,
    max_batched_tokens: int | None = None,
    draft_tokens: int = 0,
) -> HostDispatch | None:
    """The ``HostDispatch`` of a replica under ``plan``: the profile's execution data
    (``FrameworkExecution``; None without it) with the launch line's ``graph`` mode and largest
    captured batch (``graph_max_tokens``, tokens per attention-DP group) where it states them,
    else the profile's default mode and rule (``capture_limit`` on the replica's ``max_seqs``
    and ``max_batched_tokens`` per DP group and its ranks)."""
    ex = profile.execution if profile is not None else None
    if ex is None:
        return None
    if graph_max_tokens is not None:
        limit = float(graph_max_tokens)
    else:
        dp = plan.dp
        limit = capture_limit(
            ex,
            max_seqs_per_group=max_seqs / dp if max_seqs is not None else None,
            draft_tokens=draft_tokens,
            max_batched_tokens=max_batched_tokens / dp if max_batched_tokens is not None else None,
            ranks=plan.ranks_per_replica,
        )
    return HostDispatch(graph or ex.graph, limit, ex.eager_op_dispatch)


def perf_model_from_catalog(
    catalog: Catalog,
    model: str,
    device: str,
    plan: ParallelPlan,
    prec: Precision,
    *,
    routing: RoutingModel | None = None,
    spec: SpecDecode | None = None,
    server: str | None = None,
    iteration_overhead: float | None = None,
    framework: str | None = None,
    graph: str | None = None,
    graph_max_tokens: int | None = None,
    max_seqs: int | None = None,
    max_batched_tokens: int | None = None,
) -> PerfModel:
    """A ``PerfModel`` with the card, its server (default: the card's ``default_server``) and
    that server's scale-up and scale-out fabrics looked up in ``catalog``; ``framework`` (a
    serving framework's name) brings in its profile on the card's vendor, when the catalog has
    one (``Catalog.framework_profile``): its calibrated per-token cost and its host dispatch
    (``host_dispatch``, with the launch line's ``graph``, ``graph_max_tokens`` and the
    scheduler's ``max_seqs`` / ``max_batched_tokens`` of the replica)."""
    card = catalog.device(device)
    profile = catalog.framework_profile(framework, card.vendor) if framework else None
    arch = catalog.model(model)
    srv = catalog.server(server) if server else catalog.server_for(card)
    draft = None
    if spec is not None and spec.draft_model is not None:
        draft = catalog.model(spec.draft_model)
        if draft.draft is None:
            raise AccelsimError(
                f"speculative draft_model {spec.draft_model!r} is not a draft model "
                "(its file has no draft: section)"
            )
    return PerfModel(
        card,
        arch,
        plan,
        prec,
        scale_up=catalog.fabric(srv.scale_up_fabric),
        scale_out=catalog.fabric(srv.scale_out_fabric),
        node_cards=srv.cards_per_node,
        scale_up_cards=srv.scale_up_domain_cards,
        routing=routing,
        spec=spec,
        iteration_overhead=iteration_overhead,
        draft=draft,
        decode_token_layer_cost=profile.decode_token_layer_cost if profile is not None else 0.0,
        host=host_dispatch(
            profile,
            plan,
            graph=graph,
            graph_max_tokens=graph_max_tokens,
            max_seqs=max_seqs,
            max_batched_tokens=max_batched_tokens,
            draft_tokens=spec.draft_tokens if spec is not None else 0,
        ),
    )
