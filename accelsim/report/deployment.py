"""The report's "deployment" section: for each device's sized cluster, the racks it takes in the
facility (racks, kW per rack against the facility's, hostable or why not), the spare nodes
that keep its capacity whole at ``accelsim.run.placement.DEFAULT_AVAILABILITY``, and the
launch recipe of the sized deployment.

The recipe's framework: vLLM-Ascend on Huawei cards, vLLM on the others, SGLang where vLLM
cannot launch the plan (``accelsim.model.launchable``); a deployment none can launch says why.
The report's costs are those of the sized cluster without spares (``accelsim size
--availability`` costs them)."""

from __future__ import annotations

from accelsim.catalog.loader import Catalog
from accelsim.errors import AccelsimError
from accelsim.questions.compare import ComparisonResult
from accelsim.report.model import Code, Section, Table
from accelsim.report.recipes import emit_recipe
from accelsim.run.placement import DEFAULT_AVAILABILITY, deployment_figures
from accelsim.run.resolve import deploy
from accelsim.run.scenario import Scenario

__all__ = ["deployment_section"]

_COLUMNS = (
    "device",
    "cards",
    "nodes",
    "spare nodes",
    "racks",
    "nodes per rack",
    "kW per rack",
    "total kW",
    "hostable",
)


def _recipe(catalog: Catalog, device: str, scenario: Scenario) -> tuple[Code | None, str]:
    card = catalog.device(device)
    order = ["vllm-ascend", "sglang"] if card.vendor.lower() == "huawei" else ["vllm", "sglang"]
    deployment = deploy(scenario, catalog)
    reasons = []
    for fw in order:
        try:
            text = emit_recipe(deployment, fw, catalog)
        except AccelsimError as exc:
            reasons.append(str(exc))
            continue
        return Code(f"{device}: launch recipe ({fw})", text), ""
    return None, f"{device}: no launch recipe: " + "; ".join(reasons)


def deployment_section(result: ComparisonResult, catalog: Catalog, facility: str) -> Section:
    """Racks, power, spares and the launch recipe of each device's sized cluster."""
    rows: list[tuple[str, ...]] = []
    code: list[Code] = []
    notes: list[str] = []
    for o in result.outcomes:
        s = o.sizing
        run = s.chosen
        if not s.attainable or run is None or run.scenario is None:
            notes.append(f"{o.device}: no size meets the SLOs, so there is nothing to deploy.")
            continue
        try:
            figs = deployment_figures(catalog, o.device, s.cards, facility, DEFAULT_AVAILABILITY)
        except AccelsimError as exc:
            notes.append(f"{o.device}: {exc}")
            continue
        racks, spares = figs["racks"], figs["spares"]
        extra = int(spares["spare_nodes"]) if isinstance(spares, dict) else 0
        if not isinstance(racks, dict):
            notes.append(f"{o.device}: {figs['note']}")
        else:
            ok = bool(racks["hostable"])
            rows.append(
                (
                    o.device,
                    f"{s.cards:g}",
                    str(int(racks["nodes"]) - extra),
                    str(extra),
                    str(racks["racks"]) if ok else "-",
                    str(racks["nodes_per_rack"]) if ok else "-",
                    f"{racks['kw_per_rack']:.1f} of {racks['facility_kw_per_rack']:g}"
                    if ok
                    else "-",
                    f"{racks['total_kw']:.1f}",
                    "yes" if ok else "not hostable",
                )
            )
            if not ok:
                notes.append(
                    f"{o.device} is not hostable at {facility}: {racks['reason']}; nearest "
                    f"feasible: {racks['nearest']}."
                )
        block, why = _recipe(catalog, o.device, run.scenario)
        if block is not None:
            code.append(block)
        else:
            notes.append(why)
    intro = (
        f"Each device's sized cluster in {facility}'s racks: nodes at their rated power at "
        "load (the server's nameplate, else host plus cards' TDP), as many to a rack as its "
        "power and rack units allow; spare nodes keep the sized capacity whole "
        f"{DEFAULT_AVAILABILITY:.1%} of the time (independent node failures at the server's "
        "card and node failure rates, out for its repair time; the costs above do not "
        "include them). Each launch recipe starts the sized deployment; its flags are "
        "checked against the framework's stored option list."
    )
    tables = (Table(_COLUMNS, tuple(rows), ("l",) + ("r",) * 7 + ("l",)),) if rows else ()
    return Section("deployment", "Deployment", (intro, *notes), tables=tables, code=tuple(code))
