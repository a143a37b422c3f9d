"""The procurement answer of ``compare``: the verdict on $ per M output tokens, its probability
and what would flip it, as one sentence and as data.

``priced`` and ``device_verdict`` hand the sized, priced devices to the joint Monte Carlo of
``accelsim.model.joint`` with two additions made here:

- **Performance.** Each device's simulated throughput is drawn over its cross-validated
  prediction interval (``performance_range``: ``accelsim.validate.intervals.interval_for``,
  kind ``serving``, P10-P90 from the leave-one-source-out residuals of the validation cases of
  the card's vendor, widened where a group has few cases), as a lognormal with that P10 and
  P90; a device's input tokens/s and requests/s scale with the same draw. The devices' errors
  are drawn independently (no common model bias is assumed), which is the cautious choice for
  the ratio.
- **Keys.** A flip of a catalog input names the what-if key that sets it
  (``accelsim.run.pricing.input_keys``), so ``--set KEY=VALUE`` at the break-even reproduces
  it; a device's simulated throughput, which no catalog value sets, is named
  ``performance.DEVICE.output_tokens_per_s`` (its break-even says how fast the device would
  have to be).

``sentence`` words the verdict: "For <model> at <load> under <SLOs>: <A> costs <x> per M output
tokens (P10–P90 ...) against <B> <y>; <A> is cheaper with probability p." (the en dash of
every P10–P90 accelsim prints)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from accelsim.catalog.loader import Catalog
from accelsim.model.joint import JointVerdict, Priced, joint_verdict
from accelsim.model.uncertainty import Dist, RangedTco
from accelsim.run.pricing import input_keys
from accelsim.validate.intervals import interval_for

__all__ = ["VERDICT_METRIC", "device_verdict", "performance_range", "priced", "sentence"]

#: The figure the verdict is on.
VERDICT_METRIC = "usd_per_mtok_output"
#: The standard normal's P90.
_Z90 = 1.2815515655446004


def performance_range(catalog: Catalog, device: str, base: float) -> Dist | None:
    """The range of ``device``'s true serving throughput around the simulated ``base``: the
    lognormal whose P10 and P90 are the cross-validated prediction interval of
    ``accelsim.validate.intervals.interval_for`` (kind ``serving``), or None for a degenerate
    interval."""
    if base <= 0:
        return None
    interval = interval_for(catalog, device, "serving", base)
    low, high = interval.p10, interval.p90
    if not 0 < low < high:
        return None
    sigma = math.log(high / low) / (2.0 * _Z90)
    basis = f"cross-validated serving interval: {interval.basis}"
    return Dist.lognormal(math.sqrt(low * high), sigma, basis=basis)


def priced(catalog: Catalog, tco: RangedTco, *, prices: str, facility: str) -> Priced:
    """One sized device's cost inputs with the ranges the verdict draws (its throughput over
    ``performance_range``) and the what-if key of each input."""
    device = tco.inputs.device
    ranges = dict(tco.ranges)
    tok = tco.inputs.output_tokens_per_s
    perf = performance_range(catalog, device, tok) if tok else None
    if perf is not None and tok:
        ranges["output_tokens_per_s"] = perf
        for key in ("input_tokens_per_s", "requests_per_s"):
            value = getattr(tco.inputs, key)
            if value:
                ranges[key] = Dist.lognormal(perf.base * value / tok, perf.sigma, basis=perf.basis)
    keys = input_keys(catalog, tco.inputs, prices=prices, facility=facility)
    keys.update(
        {
            k: f"performance.{device}.{k}"
            for k in ("output_tokens_per_s", "input_tokens_per_s", "requests_per_s")
        }
    )
    return Priced(device, tco.inputs, ranges, keys)


def device_verdict(devices: Sequence[Priced], *, n: int, seed: int) -> JointVerdict:
    """The joint verdict on ``VERDICT_METRIC`` over two or more ``priced`` devices."""
    return joint_verdict(list(devices), VERDICT_METRIC, n=n, seed=seed)


def _money(x: float) -> str:
    return f"${x:,.2f}" if x < 100 else f"${x:,.0f}"


def sentence(
    verdict: JointVerdict | None,
    *,
    model: str,
    load: str,
    slos: Mapping[str, Any],
    missing: Sequence[str] = (),
) -> str:
    """The verdict in words (or why there is none: ``missing`` says which devices have no cost)."""
    slo_text = ", ".join(f"{k} <= {v}" for k, v in slos.items()) or "no SLOs"
    head = f"For {model} at {load} under {slo_text}: "
    if verdict is None:
        why = "; ".join(missing) or "fewer than two devices have a cost"
        return head + f"no cost verdict ({why})."
    w, r = verdict.winner, verdict.runner_up
    wq, rq = verdict.quantiles(w), verdict.quantiles(r)
    rp10, rp50, rp90 = verdict.ratio_quantiles
    return (
        head
        + f"{w} costs {_money(wq[1])} per M output tokens (P10–P90 {_money(wq[0])}–"
        + f"{_money(wq[2])}) against {r} {_money(rq[1])} ({_money(rq[0])}–{_money(rq[2])}); "
        + f"{w} is cheaper with probability {verdict.p_winner:.2f} "
        + f"(cost ratio {rp50:.2f}x, P10–P90 {rp10:.2f}–{rp90:.2f}x)."
    )
