"""Request streams: arrival processes, length models and trace readers.

A traffic profile (``TrafficSpec``, one YAML mapping in ``workloads/traffic/`` or inline in a
scenario) says *when* requests arrive and *how long* their prompts and outputs are. ``generate``
turns it into a ``Requests`` table (numpy columns) with a seeded ``numpy.random.Generator`` —
never the global RNG — so the same spec and seed give the same requests.

Arrival processes (``arrival``):

- ``poisson``: exponential gaps at ``rate``;
- ``gamma``: Gamma gaps with mean ``1/rate`` and coefficient of variation ``cv`` (burstiness;
  ``cv = 1`` is Poisson, ``cv > 1`` bursty, ``cv < 1`` smoother);
- ``constant``: gaps of exactly ``1/rate``;
- ``closed_loop``: ``clients`` users, each sending its next request ``think_time`` after its last
  one returns (arrival times are decided by the engine; here only lengths are drawn). With a
  ``rate`` as well, requests are also released at Poisson times of that rate and a free client
  waits for the next release — a benchmark client with a request rate *and* a concurrency cap
  (SGLang/vLLM ``bench_serving --request-rate R --max-concurrency N``);
- ``trace``: replay a trace's arrival times (``time_scale`` stretches them; a ``rate`` rescales
  them to that mean rate instead) with the trace's own lengths;
- ``servegen``: a ServeGen per-client workload model: per 600 s window a rate, a Gamma or
  Weibull inter-arrival family rescaled to the window's rate, and length PDFs per 6 h window.

Length models (``lengths.kind``): ``fixed``, ``uniform`` (inclusive integer ranges),
``lognormal`` (median and log-space sigma, clipped to ``[1, max]``), ``empirical`` (joint
(prompt, output) pairs drawn with replacement from a trace).

Trace files are read by ``accelsim.sim.traces`` (Azure 2023, Mooncake, length-only CSVs,
ServeGen); their readers are re-exported here. Prefix-cache hits: a Mooncake request's leading
blocks seen earlier in the trace count as cached (see there); elsewhere ``prefix_hit_rate``
marks that share of every prompt as cached. Cached tokens are capped at ``prompt - 1`` (the
last prompt token is always computed to produce the first output token).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, field_validator, model_validator

from accelsim.catalog.schema import Frozen, Time
from accelsim.errors import AccelsimError
from accelsim.sim.traces import (
    MAX_TOKENS,
    ServeGenClient,
    TraceFormat,
    load_trace,
    read_servegen,
)
from accelsim.units import parse_quantity

__all__ = [
    "ArrivalKind",
    "EmpiricalLengths",
    "FixedLengths",
    "LengthModel",
    "LognormalLengths",
    "Requests",
    "TrafficSpec",
    "UniformLengths",
    "check_context",
    "generate",
    "parse_rate",
]

#: The most requests one traffic spec may draw (a bound checked before allocating: ten
#: million requests are about a gigabyte of columns and hours of simulation).
MAX_REQUESTS = 10_000_000


def parse_rate(value: object) -> float:
    """Requests per second from ``40``, ``"40/s"``, ``"40 req/s"`` or ``"2400/min"``."""
    if isinstance(value, str):
        text = value
        for word in ("requests", "request", "reqs", "req"):
            text = text.replace(word, "")
        text = text.strip()
        if text.startswith("/"):
            text = "1" + text
        return parse_quantity(text, "rate")
    return parse_quantity(value, "rate")


Rate = Annotated[
    float, BeforeValidator(lambda v: None if v is None else parse_rate(v)), Field(gt=0)
]

ArrivalKind = Literal["poisson", "gamma", "constant", "closed_loop", "trace", "servegen"]


# ---- length models -----------------------------------------------------------------------
class FixedLengths(Frozen):
    kind: Literal["fixed"] = "fixed"
    prompt: int = Field(ge=1, le=MAX_TOKENS)
    output: int = Field(ge=1, le=MAX_TOKENS)

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        return np.full(n, self.prompt, np.int64), np.full(n, self.output, np.int64)


class UniformLengths(Frozen):
    """Integers drawn uniformly from the inclusive ranges ``[lo, hi]``."""

    kind: Literal["uniform"] = "uniform"
    prompt: tuple[int, int]
    output: tuple[int, int]

    @model_validator(mode="after")
    def _check(self) -> UniformLengths:
        for name in ("prompt", "output"):
            lo, hi = getattr(self, name)
            if lo < 1 or hi < lo or hi > MAX_TOKENS:
                raise ValueError(f"{name}: need 1 <= lo <= hi <= {MAX_TOKENS:,}")
        return self

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        p = rng.integers(self.prompt[0], self.prompt[1], n, endpoint=True, dtype=np.int64)
        o = rng.integers(self.output[0], self.output[1], n, endpoint=True, dtype=np.int64)
        return p, o


class LognormalLengths(Frozen):
    """``round(median * exp(sigma * N(0,1)))`` clipped to ``[1, max]``, prompt and output
    independent."""

    kind: Literal["lognormal"] = "lognormal"
    prompt_median: float = Field(gt=0)
    prompt_sigma: float = Field(ge=0)
    output_median: float = Field(gt=0)
    output_sigma: float = Field(ge=0)
    max_prompt: int = Field(default=32768, ge=1, le=MAX_TOKENS)
    max_output: int = Field(default=4096, ge=1, le=MAX_TOKENS)

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        p = self.prompt_median * np.exp(self.prompt_sigma * rng.standard_normal(n))
        o = self.output_median * np.exp(self.output_sigma * rng.standard_normal(n))
        p = np.clip(np.rint(p), 1, self.max_prompt).astype(np.int64)
        o = np.clip(np.rint(o), 1, self.max_output).astype(np.int64)
        return p, o


class EmpiricalLengths(Frozen):
    """(prompt, output) pairs drawn with replacement from a trace's rows."""

    kind: Literal["empirical"] = "empirical"
    trace: str
    format: TraceFormat | None = None

    def sample(self, n: int, rng: np.random.Generator, resolve: Resolver) -> tuple[np.ndarray, ...]:
        tr = load_trace(resolve(self.trace), self.format)
        idx = rng.integers(0, len(tr), n)
        return tr.prompt_tokens[idx], tr.output_tokens[idx]


LengthModel = Annotated[
    FixedLengths | UniformLengths | LognormalLengths | EmpiricalLengths,
    Field(discriminator="kind"),
]
Resolver = Callable[[str], Path]


# ---- the traffic spec --------------------------------------------------------------------
class TrafficSpec(Frozen):
    """Arrivals plus lengths (see the module docstring). Count: ``requests`` (the first N) and
    / or ``duration`` (arrivals before it); a synthetic open-loop stream needs one of them."""

    name: str | None = None
    description: str = ""
    arrival: ArrivalKind = "poisson"
    rate: Rate | None = None
    cv: float = Field(default=1.0, gt=0)
    clients: int | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    think_time: Time = 0.0
    trace: str | None = None
    format: TraceFormat | None = None
    time_scale: float = Field(default=1.0, gt=0)
    start: Time = 0.0
    lengths: LengthModel | None = None
    requests: int | None = Field(default=None, ge=1, le=MAX_REQUESTS)
    duration: Time | None = None
    prefix_hit_rate: float = Field(default=0.0, ge=0, lt=1)
    trace_sha256: str | None = None

    @field_validator("requests", "clients", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("expected a whole number, not true/false")
        return value

    @model_validator(mode="after")
    def _check(self) -> TrafficSpec:
        a = self.arrival
        if (
            a in ("poisson", "gamma", "constant")
            and self.requests is None
            and self.rate is not None
            and self.duration is not None
            and self.rate * self.duration > MAX_REQUESTS
        ):
            raise ValueError(
                f"rate x duration is {self.rate * self.duration:.3g} requests, over the "
                f"{MAX_REQUESTS:,} one run may draw (give requests, or a shorter duration)"
            )
        if a in ("poisson", "gamma", "constant") and self.rate is None:
            raise ValueError(f"{a} arrivals need a rate")
        if a == "closed_loop" and (self.clients is None or self.requests is None):
            raise ValueError("closed_loop arrivals need clients and requests")
        if a in ("trace", "servegen") and self.trace is None:
            raise ValueError(f"{a} arrivals need a trace file")
        if a not in ("trace", "servegen") and self.lengths is None:
            raise ValueError(f"{a} arrivals need a lengths model")
        if a in ("poisson", "gamma", "constant", "closed_loop") and (
            self.requests is None and self.duration is None
        ):
            raise ValueError(f"{a} arrivals need requests or duration")
        return self


@dataclass(frozen=True)
class Requests:
    """The request table a run starts from. ``arrived_at`` is NaN for closed-loop requests
    (the engine sets it), or their release times when the closed loop also has a rate;
    ``clients`` and ``think_time`` are set only for closed loops."""

    arrived_at: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    cached_tokens: np.ndarray
    clients: int | None = None
    think_time: float = 0.0

    def __len__(self) -> int:
        return len(self.prompt_tokens)

    @staticmethod
    def from_arrays(arrived_at, prompt, output, cached=None) -> Requests:
        p = np.asarray(prompt, dtype=np.int64)
        c = np.zeros_like(p) if cached is None else np.asarray(cached, dtype=np.int64)
        return Requests(
            np.asarray(arrived_at, dtype=np.float64), p, np.asarray(output, dtype=np.int64), c
        )


def _gaps(spec: TrafficSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    mean = 1.0 / spec.rate  # type: ignore[operator]
    if spec.arrival == "poisson":
        return rng.exponential(mean, n)
    if spec.arrival == "gamma":
        shape = 1.0 / spec.cv**2
        return rng.gamma(shape, mean / shape, n)
    return np.full(n, mean)


def _open_loop_times(spec: TrafficSpec, rng: np.random.Generator) -> np.ndarray:
    if spec.requests is not None:
        times = np.cumsum(_gaps(spec, spec.requests, rng))
        if spec.duration is not None:
            times = times[times < spec.duration]
        return times
    assert spec.duration is not None and spec.rate is not None
    parts = []
    t = 0.0
    chunk = max(int(spec.duration * spec.rate * 1.1) + 16, 16)
    while t < spec.duration:
        times = t + np.cumsum(_gaps(spec, chunk, rng))
        parts.append(times)
        t = float(times[-1])
    times = np.concatenate(parts)
    return times[times < spec.duration]


def _servegen_times(client: ServeGenClient, spec: TrafficSpec, rng: np.random.Generator):
    from scipy.special import gamma as gamma_fn

    out = []
    for i, w in enumerate(client.windows):
        if not w.pattern or w.rate <= 0:
            continue
        end = client.windows[i + 1].start if i + 1 < len(client.windows) else w.start + 600.0
        n = max(int((end - w.start) * w.rate * 2) + 8, 8)
        if w.pattern == "Gamma":
            raw = rng.gamma(w.shape, w.scale, n)
            fam_mean = w.shape * w.scale
        else:
            raw = w.scale * rng.weibull(w.shape, n)
            fam_mean = w.scale * float(gamma_fn(1 + 1 / w.shape))
        gaps = raw * (1.0 / w.rate) / fam_mean
        t = w.start + np.cumsum(gaps)
        while t[-1] < end:  # rare: draw more gaps
            more = (
                w.scale * rng.weibull(w.shape, n)
                if w.pattern == "Weibull"
                else rng.gamma(w.shape, w.scale, n)
            )
            t = np.concatenate([t, t[-1] + np.cumsum(more * (1.0 / w.rate) / fam_mean)])
        out.append(t[t < end])
    times = np.concatenate(out) if out else np.zeros(0)
    times = times[times >= spec.start] - spec.start
    return times


def generate(spec: TrafficSpec, rng: np.random.Generator, resolve: Resolver) -> Requests:
    """Draw the request table of ``spec``. ``resolve`` maps a trace path of the spec to a
    file (catalog roots); ``rng`` is used for arrivals first, then lengths, in a fixed order."""
    arrival_rng, length_rng = rng.spawn(2)
    clients = None
    if spec.arrival == "trace":
        tr = load_trace(resolve(spec.trace), spec.format)  # type: ignore[arg-type]
        if tr.arrived_at is None:
            raise AccelsimError(
                f"traffic: trace {spec.trace} has no arrival times; use arrival: poisson (or "
                "another process) with lengths: {kind: empirical, trace: ...}"
            )
        times = tr.arrived_at * spec.time_scale
        if spec.rate is not None and len(times) > 1 and times[-1] > 0:
            times = tr.arrived_at * ((len(times) - 1) / times[-1] / spec.rate) * spec.time_scale
        prompt, output, cached = tr.prompt_tokens, tr.output_tokens, tr.cached_tokens
        keep = len(times)
        if spec.duration is not None:
            keep = int(np.searchsorted(times, spec.duration, side="left"))
        if spec.requests is not None:
            keep = min(keep, spec.requests)
        times, prompt, output, cached = times[:keep], prompt[:keep], output[:keep], cached[:keep]
    elif spec.arrival == "servegen":
        client = read_servegen(resolve(spec.trace))  # type: ignore[arg-type]
        times = _servegen_times(client, spec, arrival_rng) * spec.time_scale
        if spec.duration is not None:
            times = times[times < spec.duration]
        if spec.requests is not None:
            times = times[: spec.requests]
        prompt = np.empty(len(times), np.int64)
        output = np.empty(len(times), np.int64)
        starts = sorted(client.lengths)
        window_of = (
            np.searchsorted(np.asarray(starts), times / spec.time_scale + spec.start, side="right")
            - 1
        )
        window_of = np.maximum(window_of, 0)
        for w_i, start in enumerate(starts):
            sel = np.nonzero(window_of == w_i)[0]
            if len(sel):
                iv, ip, ov, op = client.lengths[start]
                prompt[sel] = length_rng.choice(iv, len(sel), p=ip)
                output[sel] = length_rng.choice(ov, len(sel), p=op)
        cached = np.zeros_like(prompt)
    else:
        if spec.arrival == "closed_loop":
            assert spec.requests is not None
            if spec.rate is None:
                times = np.full(spec.requests, np.nan)
            else:
                times = np.cumsum(arrival_rng.exponential(1.0 / spec.rate, spec.requests))
            clients = spec.clients
        else:
            times = _open_loop_times(spec, arrival_rng)
        assert spec.lengths is not None
        prompt, output = spec.lengths.sample(len(times), length_rng, resolve)
        cached = np.zeros_like(prompt)
    prompt = np.asarray(prompt, dtype=np.int64)
    cached = np.asarray(cached, dtype=np.int64)
    if spec.prefix_hit_rate > 0:
        cached = np.maximum(cached, np.floor(prompt * spec.prefix_hit_rate).astype(np.int64))
    cached = np.minimum(cached, prompt - 1)
    return Requests(
        np.asarray(times, dtype=np.float64),
        prompt,
        np.asarray(output, dtype=np.int64),
        cached,
        clients=clients,
        think_time=spec.think_time if clients else 0.0,
    )


def check_context(requests: Requests, max_context: int, model: str, where: str) -> None:
    """Every request's prompt plus output must fit the model's ``max_context`` (a longer one
    would be served as if the model could read it): else an ``AccelsimError`` naming the
    first such request (``where``: the traffic's file or profile)."""
    if not len(requests):
        return
    total = requests.prompt_tokens + requests.output_tokens
    over = np.nonzero(total > max_context)[0]
    if len(over):
        i = int(over[0])
        raise AccelsimError(
            f"{where}: request {i} has {int(requests.prompt_tokens[i])} prompt + "
            f"{int(requests.output_tokens[i])} output tokens, over {model}'s max_context "
            f"{max_context:,} ({len(over):,} of {len(requests):,} requests are)"
        )
