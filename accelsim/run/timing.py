"""Catalog entries -> the timing model: ``perf_model_from_catalog`` looks up a card, its server
and fabrics, a model (and its EAGLE draft model) and a serving framework's profile, and builds
the ``accelsim.model.perf.model.PerfModel`` of one replica from them.
"""

from __future__ import annotations

from accelsim.catalog.loader import Catalog
from accelsim.dtypes import Precision
from accelsim.errors import AccelsimError
from accelsim.model.perf.draft import SpecDecode
from accelsim.model.perf.model import PerfModel
from accelsim.model.plan import ParallelPlan
from accelsim.model.routing import RoutingModel

__all__ = ["perf_model_from_catalog"]


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
) -> PerfModel:
    """A ``PerfModel`` with the card, its server (default: the card's ``default_server``) and
    that server's scale-up and scale-out fabrics looked up in ``catalog``; ``framework`` (a
    serving framework's name) brings in its profile on the card's vendor, when the catalog has
    one (``Catalog.framework_profile``)."""
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
    )
