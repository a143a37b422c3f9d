"""Fuzzing the input boundary: random bytes, random YAML, random numbers with units and random
argument values into every reader and the main commands. Whatever comes in, the answer is a
result or one ``AccelsimError`` line (exit 0 or 2) — never another exception, never a
traceback. Examples are bounded so that the file runs in seconds.
"""

from __future__ import annotations

import math
import string

import pytest
import yaml
from clirun import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.catalog.loader import decode_text, load_catalog, parse_override, parse_yaml
from accelsim.errors import AccelsimError
from accelsim.run.scenario import read_scenario
from accelsim.sim.traces import read_trace
from accelsim.sweep.spec import sweep_from_mapping
from accelsim.units import DIMENSIONS, UserText, parse_money, parse_quantity

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["20/s", "1e400 TB/s", ".inf", "-1", "64", "2 ms", "tp=8,ep=8", "fixed"]),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
#: Keys a scenario file has, so random mappings reach the schema's fields.
SCENARIO_KEYS = ["model", "device", "cards", "plan", "traffic", "slo", "horizon", "seed",
                 "scheduler", "context", "speculative", "disaggregation", "dtype"]  # fmt: skip
TRAFFIC_KEYS = ["arrival", "rate", "requests", "duration", "lengths", "cv", "clients"]


@FAST
@given(st.binary(max_size=300))
def test_random_bytes_into_the_yaml_reader(data):
    try:
        parse_yaml(decode_text(data, "f.yaml"), "f.yaml")
    except AccelsimError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("f.yaml")


@FAST
@given(trees)
def test_random_yaml_documents_parse_back_or_fail_cleanly(tree):
    text = yaml.safe_dump(tree, allow_unicode=True)
    try:
        parse_yaml(text, "doc.yaml")
    except AccelsimError as exc:
        assert str(exc).startswith("doc.yaml")


@FAST
@given(
    st.fixed_dictionaries(
        {
            "model": st.sampled_from(["deepseek-v2-lite", "nope"]),
            "device": st.just("a100-sxm4-80gb"),
        },
        optional={k: trees for k in SCENARIO_KEYS[2:]},
    ),
    st.dictionaries(st.sampled_from(TRAFFIC_KEYS), trees, max_size=5),
)
def test_random_scenarios_validate_or_fail_with_one_line(catalog, raw, traffic):
    lengths = {"kind": "fixed", "prompt": 8, "output": 2}
    raw = {**raw, "traffic": {"arrival": "poisson", "lengths": lengths, **traffic}}
    try:
        sc = read_scenario(raw, catalog)
    except AccelsimError as exc:
        assert "\n" not in str(exc)
        return
    spec = sc.traffic_spec
    for value in (spec.rate, spec.duration, spec.cv):
        assert value is None or math.isfinite(value)


number_texts = st.builds(
    lambda n, u: f"{n} {u}",
    st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(10**40), 10**40),
        st.sampled_from(["1e400", "inf", "nan", "-0", "1,000", "10**10**10", "٣"]),
    ),
    st.sampled_from(
        [
            "",
            "GB",
            "GiB",
            "TB/s",
            "TFLOPS",
            "ms",
            "us",
            "W",
            "kWh",
            "/s",
            "%",
            "tok/s",
            "Gb/s",
            "GHz",
            "furlong",
            "B**2",
            "USD",
        ]
    ),
)


@FAST
@given(number_texts, st.sampled_from(sorted(DIMENSIONS)), st.booleans())
def test_random_numbers_with_units(text, dimension, typed):
    value = UserText(text) if typed else text
    try:
        out = parse_quantity(value, dimension)
    except AccelsimError:
        return
    assert math.isfinite(out)


@FAST
@given(number_texts, st.sampled_from([None, "energy", "time"]))
def test_random_money(text, per):
    try:
        money = parse_money(text, per=per, default_currency="USD")
    except AccelsimError:
        return
    assert math.isfinite(money.amount)


@FAST
@given(st.binary(max_size=200), st.sampled_from(["t.csv", "t.jsonl"]))
def test_random_bytes_into_the_trace_readers(tmp_path, data, name):
    path = tmp_path / name
    path.write_bytes(
        b"TIMESTAMP,ContextTokens,GeneratedTokens\n" + data if name == "t.csv" else data
    )
    try:
        trace = read_trace(path)
    except AccelsimError:
        return
    assert (trace.prompt_tokens >= 1).all() and (trace.output_tokens >= 1).all()


@FAST
@given(st.text(alphabet=string.printable, max_size=60))
def test_random_override_texts(catalog, text):
    try:
        parse_override(text, catalog.known_names())
    except AccelsimError as exc:
        assert "\n" not in str(exc)


@FAST
@given(
    st.sampled_from(["hbm_capacity", "hbm_bandwidth", "tdp", "efficiency.gemm_fraction", "dies"]),
    number_texts,
)
def test_random_override_values_build_or_fail_cleanly(field, value):
    try:
        cat = load_catalog(None, [f"device.a100-sxm4-80gb.{field}={value}"])
        card = cat.device("a100-sxm4-80gb")
    except AccelsimError:
        return
    assert math.isfinite(card.hbm_capacity) and math.isfinite(card.tdp)


@FAST
@given(st.dictionaries(st.sampled_from(["axes", "samples", "constraints", "slo", "set", "seed",
                                         "evaluator", "metrics"]), trees, max_size=4))  # fmt: skip
def test_random_sweep_files(data):
    try:
        sweep_from_mapping({"name": "fz", "base": "tiny", **data}, where="fz.yaml", source="fz")
    except AccelsimError as exc:
        assert "\n" not in str(exc)


arguments = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", "-", "--", "1e20", "0x10", "1_000", "tp=0", "nan", "٣", "x" * 300]),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.sampled_from(
        [
            ["fit", "deepseek-v2-lite", "--device", "a100-sxm4-80gb", "--cards"],
            ["fit", "deepseek-v2-lite", "--device", "a100-sxm4-80gb", "--cards", "1", "--context"],
            ["fit", "deepseek-v2-lite", "--device", "a100-sxm4-80gb", "--plan"],
            ["tco", "--device", "h800", "--utilization", "0.5", "--cards"],
            ["tco", "--device", "h800", "--cards", "8", "--utilization"],
            ["tco", "--device", "h800", "--cards", "8", "--utilization", "0.5", "--years"],
            ["step", "deepseek-v2-lite", "--device", "a100-sxm4-80gb", "--decode-batch"],
            ["show", "device"],
            ["catalog", "--set"],
        ]
    ),
    arguments,
)
def test_random_argument_values(capsys, command, value):
    code, out, err = run_cli(capsys, *command, value)
    assert code in (0, 2), (command, value, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert len([line for line in err.splitlines() if line.strip()]) == 1, err
