"""Reading back the ``summary.json`` that ``accelsim run --out DIR`` writes, for the cost model.

``accelsim tco --from`` takes a deployment's device, card count, utilization and throughput from a
simulation instead of the command line. The file is the run's summary as ``run_scenario`` returns
it (``accelsim.sim.metrics.summarize`` plus the scenario's ``device``, ``model`` and digest): only
the keys it writes are read (``RUN_KEYS``), each at the one place it writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import AccelsimError
from accelsim.sim.metrics import METRICS

__all__ = ["RUN_KEYS", "RunFigures", "read_run_summary"]

#: The run-summary metric (``accelsim.sim.metrics.METRICS``, read at its key path) behind each
#: figure the cost model needs. The utilization is the cards' activity (the share of the run
#: their compute or HBM work at peak, ``accelsim.sim.metrics``; a summary written before it
#: existed gives its busy fraction); the rates count completed requests and their tokens.
RUN_KEYS: dict[str, str] = {
    "cards": "cards",
    "utilization": "activity",
    "output_tokens_per_s": "output_tokens_per_s",
    "input_tokens_per_s": "input_tokens_per_s",
    "requests_per_s": "requests_per_s",
}


@dataclass(frozen=True)
class RunFigures:
    """What the cost model needs from a simulation summary (None: the summary lacks it)."""

    device: str | None
    cards: int | None
    utilization: float | None
    output_tokens_per_s: float | None
    input_tokens_per_s: float | None
    requests_per_s: float | None
    source: str


def read_run_summary(path: str | Path) -> RunFigures:
    """Read the summary JSON of ``accelsim run --out DIR`` (a file or the DIR holding
    ``summary.json``); each figure from its key path in ``RUN_KEYS``."""
    p = Path(path)
    if p.is_dir():
        p = p / "summary.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise AccelsimError(f"{path}: not UTF-8 text (a binary file?); expected JSON") from None
    except OSError as exc:
        raise AccelsimError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise AccelsimError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise AccelsimError(f"{path}: expected a JSON object")

    def number(key: str) -> float | None:
        return metric_number(RUN_KEYS[key])

    def metric_number(name: str) -> float | None:
        metric = METRICS[name]
        value = metric.read(data)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            where = ".".join(metric.path)
            raise AccelsimError(f"{path}: {where} should be a number (got {value!r})")
        return float(value)

    device = data.get("device")
    cards = number("cards")
    return RunFigures(
        device=str(device) if device is not None else None,
        cards=int(cards) if cards is not None else None,
        utilization=(
            number("utilization") if "activity" in data else metric_number("busy_fraction")
        ),
        output_tokens_per_s=number("output_tokens_per_s"),
        input_tokens_per_s=number("input_tokens_per_s"),
        requests_per_s=number("requests_per_s"),
        source=str(p),
    )
