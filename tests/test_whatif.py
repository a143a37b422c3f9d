"""`accelsim whatif` and the override marks in results: vary parsing (units, steps, nested and
scenario fields, bad input), the what-if rows, monotonicity in HBM bandwidth, the Python API,
and the overrides listed by `run`, `compare` and `whatif`."""

from __future__ import annotations

import itertools
import json

import pytest
from clirun import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import accelsim
from accelsim.catalog.loader import load_catalog, with_overrides
from accelsim.dtypes import precision
from accelsim.errors import AccelsimError
from accelsim.model.batch import BatchStats
from accelsim.model.perf.model import PerfModel
from accelsim.model.plan import parse_plan
from accelsim.questions.whatif import METRICS, parse_vary, whatif
from accelsim.run.resolve import load_scenario
from accelsim.run.simulate import run_scenario
from accelsim.sweep.spec import resolve_base, sweep_from_mapping

HBM = "device.a100-sxm4-80gb.hbm_bandwidth"


@pytest.fixture(scope="module")
def tiny_base(catalog):
    return resolve_base(sweep_from_mapping({"base": "tiny"}), catalog)


@pytest.fixture(scope="module")
def hbm_run():
    """The tiny scenario with the analytic model at 1, 2 and 3 TB/s (and the catalog's)."""
    return whatif(
        "tiny",
        f"{HBM}=1TB/s..3TB/s",
        steps=3,
        evaluator="analytic",
        metrics="throughput,tpot_mean,tpot_p99,usd_per_mtok",
    )


# ---- parsing the varied field ---------------------------------------------------------------


def test_range_is_interpolated_in_the_unit_written(catalog, tiny_base):
    v = parse_vary(f"{HBM}=1.2TB/s..3.2TB/s", catalog, tiny_base, steps=5)
    assert (v.kind, v.name, v.field) == ("device", "a100-sxm4-80gb", "hbm_bandwidth")
    assert v.values == pytest.approx([1.2e12, 1.7e12, 2.2e12, 2.7e12, 3.2e12])
    assert v.labels == ("1.2 TB/s", "1.7 TB/s", "2.2 TB/s", "2.7 TB/s", "3.2 TB/s")
    # the high end may use another unit: 3200 GB/s is 3.2 TB/s
    w = parse_vary(f"{HBM}=1.2TB/s..3200GB/s", catalog, tiny_base, steps=5)
    assert w.values == pytest.approx(v.values)


def test_log_steps_are_geometric(catalog, tiny_base):
    v = parse_vary(f"{HBM}=1TB/s..4TB/s", catalog, tiny_base, steps=3, log=True)
    assert v.values == pytest.approx([1e12, 2e12, 4e12])


def test_nested_list_and_scenario_fields(catalog, tiny_base):
    eff = parse_vary("device.a100-sxm4-80gb.efficiency.hbm_fraction=0.6,0.9", catalog, tiny_base)
    assert eff.field == "efficiency.hbm_fraction" and eff.values == (0.6, 0.9)
    rate = parse_vary("scenario.traffic.rate=2/s..10/s", catalog, tiny_base, steps=3)
    assert rate.kind == "scenario" and rate.values == pytest.approx([2.0, 6.0, 10.0])
    assert rate.labels == ("2/s", "6/s", "10/s")
    # whole-number fields stay whole (and duplicates after rounding are dropped)
    seqs = parse_vary("scenario.scheduler.max_seqs=16..64", catalog, tiny_base, steps=4)
    assert seqs.values == (16, 32, 48, 64)
    # price-book and facility fields with money units
    power = parse_vary(
        "facility.us-2025.power_price_per_kwh=0.05 USD/kWh..0.25 USD/kWh",
        catalog,
        tiny_base,
        steps=3,
    )
    assert power.labels == ("0.05 USD/kWh", "0.15 USD/kWh", "0.25 USD/kWh")
    assert power.values[2] == pytest.approx(5 * power.values[0])
    assert power.values[0] == pytest.approx(0.05)  # the field is in USD per kWh (its name says)
    server = parse_vary(
        "prices.international-2025.servers.dgx-a100=150000,300000", catalog, tiny_base
    )
    assert server.labels == ("150,000", "300,000")
    # a dict with a list of values is the notebook form
    d = parse_vary({HBM: ["1.5 TB/s", "2 TB/s"]}, catalog, tiny_base)
    assert d.values == pytest.approx([1.5e12, 2e12])


@pytest.mark.parametrize(
    ("vary", "message"),
    [
        ("device.a100-sxm4-80gb.warp=1..2", "unknown field"),
        (f"{HBM}=1TB..2TB", "not a bandwidth"),
        (f"{HBM}=-1TB/s..2TB/s", "greater than 0"),
        ("device.nosuch.hbm_bandwidth=1..2", "unknown device"),
        (HBM, "KIND.NAME.FIELD=LOW..HIGH"),
        ("scenario.traffic.rat=1/s..2/s", "unknown field"),
        ("device.a100-sxm4-80gb.default_server=a..b", "a range needs a numeric field"),
    ],
)
def test_bad_vary_is_one_clear_error(catalog, tiny_base, vary, message):
    with pytest.raises(AccelsimError, match=message):
        parse_vary(vary, catalog, tiny_base)


def test_unknown_metric_lists_the_known_ones():
    with pytest.raises(AccelsimError, match="known: throughput, .*usd_per_mtok"):
        whatif("tiny", f"{HBM}=1TB/s..2TB/s", metrics="throughput,speed")


def test_cli_bad_input_exits_2(capsys):
    code, _, err = run_cli(
        capsys, "whatif", "tiny", "--vary", f"{HBM}=1TB/s..2TB/s", "--metric", "x"
    )
    assert code == 2 and "unknown metric" in err and "ttft_p99" in err
    code, _, err = run_cli(
        capsys, "whatif", "tiny", "--vary", f"{HBM}=1TB/s..2TB/s", "--steps", "1"
    )
    assert code == 2 and "at least 2 steps" in err
    code, _, err = run_cli(capsys, "whatif", "tiny", "--vary", f"{HBM}=1TB..2TB")
    assert code == 2 and "hbm_bandwidth" in err


# ---- the what-if rows -----------------------------------------------------------------------


def test_rows_mark_the_baseline_and_the_what_ifs(catalog, hbm_run):
    rows = hbm_run.rows
    assert [r["what_if"] for r in rows] == [False, True, True, True]
    base = rows[0]
    assert base["value"] == catalog.device("a100-sxm4-80gb").hbm_bandwidth
    assert hbm_run.baseline_source == "catalog"
    assert base["label"] == "2.039 TB/s"
    assert [r["label"] for r in rows[1:]] == ["1 TB/s", "2 TB/s", "3 TB/s"]
    assert all(r["status"] == "ok" for r in rows)
    d = hbm_run.as_dict()
    assert d["baseline"] == {"value": 2.039e12, "label": "2.039 TB/s", "source": "catalog"}
    assert d["overrides"] == []
    frame = hbm_run.to_frame()
    assert list(frame["what_if"]) == [False, True, True, True]
    assert {"value", "label", "throughput", "tpot_p99", "usd_per_mtok"} <= set(frame.columns)


def test_more_hbm_bandwidth_never_lowers_decode_throughput_whatif(hbm_run):
    """The analytic what-if: at a fixed offered load the served output rate never drops and the
    time per output token never rises as HBM bandwidth grows."""
    xs, thr = hbm_run.series("throughput")
    _, tpot = hbm_run.series("tpot_mean")
    assert xs == sorted(xs)
    assert all(b >= a * (1 - 1e-9) for a, b in itertools.pairwise(thr))
    assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(tpot))
    assert tpot[-1] < tpot[0]  # and it does move


@pytest.fixture(scope="module")
def dsv3_decode(catalog):
    """The default scenario's replica: DeepSeek-V3 (W8A8) on 32 x 910B2, tp=4,dp=8,ep=32."""
    card = catalog.device("ascend-910b2")
    srv = catalog.server_for(card)
    parts = {
        "model": catalog.model("deepseek-v3"),
        "plan": parse_plan("tp=4,dp=8,ep=32"),
        "prec": precision("int8"),
        "scale_up": catalog.fabric(srv.scale_up_fabric),
        "scale_out": catalog.fabric(srv.scale_out_fabric),
        "node_cards": srv.cards_per_node,
        "scale_up_cards": srv.scale_up_domain_cards,
    }
    return card, parts


@settings(max_examples=25, deadline=None)
@given(
    bw=st.floats(min_value=0.4e12, max_value=8e12),
    factor=st.floats(min_value=1.0, max_value=4.0),
    batch=st.integers(min_value=1, max_value=2048),
)
def test_more_hbm_bandwidth_never_lowers_decode_throughput_perf(dsv3_decode, bw, factor, batch):
    """The timing model: a decode step of the default replica is never slower on a card with
    more HBM bandwidth, so decode tokens/s never drops."""
    card, p = dsv3_decode

    def tokens_per_s(bandwidth: float) -> float:
        m = PerfModel(
            card.model_copy(update={"hbm_bandwidth": bandwidth}),
            p["model"],
            p["plan"],
            p["prec"],
            scale_up=p["scale_up"],
            scale_out=p["scale_out"],
            node_cards=p["node_cards"],
            scale_up_cards=p["scale_up_cards"],
        )
        return batch / m.iteration_time(BatchStats.decode(batch, 4096.0))

    assert tokens_per_s(bw * factor) >= tokens_per_s(bw) * (1 - 1e-12)


# ---- Python API and overrides in effect -----------------------------------------------------


def test_python_api_takes_overrides_as_a_dict():
    r = accelsim.whatif(
        "tiny",
        {"scenario.traffic.rate": ["10/s", "30/s"]},
        evaluator="analytic",
        metrics=["throughput"],
        overrides={"device.a100-sxm4-80gb.tdp": "350 W"},
    )
    assert r.overrides == [
        {"key": "device.a100-sxm4-80gb.tdp", "value": "350 W", "catalog_value": "400 W"}
    ]
    assert r.baseline_source == "scenario" and r.rows[0]["value"] == 20.0
    # the offered load is served below saturation: output rate grows with the request rate
    assert r.rows[2]["throughput"] > r.rows[1]["throughput"] > 0


def test_plot_draws_one_panel_per_metric_and_saves_atomically(hbm_run, tmp_path):
    fig = hbm_run.plot()
    assert len(fig.axes) == len(hbm_run.metrics)
    assert fig.axes[-1].get_xlabel() == f"{HBM} (TB/s)"
    path = hbm_run.save_plot(tmp_path / "chart.svg")
    assert path.read_text().lstrip().startswith("<?xml")
    assert [p.name for p in tmp_path.iterdir()] == ["chart.svg"]
    with pytest.raises(AccelsimError, match=".svg"):
        hbm_run.save_plot(tmp_path / "chart.txt")


def test_overrides_in_effect_names_the_catalog_value():
    cat = load_catalog(
        overrides=[
            f"{HBM}=2TB/s",
            f"{HBM}=3TB/s",
            "device.ascend-910b2-seed-claim.hbm_bandwidth=2TB/s",
            "device.ascend-910b2.efficiency.hbm_fraction=0.9",
            "scenario.traffic.rate=9/s",
        ]
    )
    got = {o["key"]: o for o in cat.overrides_in_effect()}
    assert list(got) == [
        HBM,
        "device.ascend-910b2-seed-claim.hbm_bandwidth",
        "device.ascend-910b2.efficiency.hbm_fraction",
        "scenario.traffic.rate",
    ]
    # repeated key: the last value, and the file's value (not the first override's)
    assert got[HBM]["value"] == "3TB/s" and got[HBM]["catalog_value"] == "2039 GB/s"
    # a variant's inherited value is its catalog value
    assert got["device.ascend-910b2-seed-claim.hbm_bandwidth"]["catalog_value"] == "1.6 TB/s"
    assert got["device.ascend-910b2.efficiency.hbm_fraction"]["catalog_value"] == "0.8"
    assert got["scenario.traffic.rate"]["catalog_value"] is None
    assert load_catalog().overrides_in_effect() == []


def test_with_overrides_stacks_on_the_catalog_overrides():
    cat = load_catalog(overrides=[f"{HBM}=3TB/s"])
    more = with_overrides(cat, {"device.a100-sxm4-80gb.tdp": "350W"})
    assert more.device("a100-sxm4-80gb").hbm_bandwidth == 3e12
    assert more.device("a100-sxm4-80gb").tdp == 350.0
    assert with_overrides(cat, None) is cat


# ---- the CLI ---------------------------------------------------------------------------------


def test_cli_json_and_plot(capsys, tmp_path):
    chart = tmp_path / "w.png"
    code, out, _ = run_cli(
        capsys,
        "whatif",
        "tiny",
        "--vary",
        f"{HBM}=1.5TB/s,3TB/s",
        "--metric",
        "throughput,tpot_p99",
        "--evaluator",
        "analytic",
        "--set",
        "device.a100-sxm4-80gb.tdp=350W",
        "--plot",
        str(chart),
        "--json",
    )
    assert code == 0
    r = json.loads(out)
    assert r["vary"] == HBM and set(r["metrics"]) == {"throughput", "tpot_p99"}
    assert [row["what_if"] for row in r["rows"]] == [False, True, True]
    assert r["overrides"][0]["catalog_value"] == "400 W"
    assert chart.read_bytes()[:4] == b"\x89PNG" and r["chart"] == str(chart)


def test_cli_table_marks_what_if_rows(capsys):
    code, out, _ = run_cli(
        capsys,
        "whatif",
        "tiny",
        "--vary",
        "scenario.traffic.rate=10/s,30/s",
        "--metric",
        "throughput",
        "--evaluator",
        "analytic",
        "--set",
        f"{HBM}=3TB/s",
    )
    assert code == 0
    assert "what-if" in out and "scenario" in out and "30/s" in out
    assert f"{HBM}=3TB/s (catalog value: 2039 GB/s)" in out


def test_run_summary_lists_overrides_only_when_there_are_some(capsys):
    code, out, _ = run_cli(capsys, "run", "tiny", "--json", "--set", f"{HBM}=3TB/s")
    assert code == 0
    assert json.loads(out)["overrides"] == [
        {"key": HBM, "value": "3TB/s", "catalog_value": "2039 GB/s"}
    ]
    code, out, _ = run_cli(capsys, "run", "tiny", "--json")
    assert code == 0 and "overrides" not in json.loads(out)


def test_every_metric_comes_out_of_the_simulator():
    r = whatif("tiny", f"{HBM}=1.5TB/s,3TB/s", metrics=list(METRICS), evaluator="simulate")
    assert [row["status"] for row in r.rows] == ["ok"] * 3
    missing = [(row["label"], m) for row in r.rows for m in METRICS if row[m] is None]
    assert missing == []
    # the simulator sees the bandwidth too: the p99 time per output token drops
    assert r.rows[2]["tpot_p99"] < r.rows[1]["tpot_p99"]


def test_varying_the_seed_runs_each_point_at_its_seed(catalog):
    result = whatif("tiny", vary="scenario.seed=0,1,2", metrics="throughput,ttft_p99")
    rows = [r for r in result.rows if r["what_if"]]
    assert [r["value"] for r in rows] == [0, 1, 2]
    assert rows[0]["throughput"] == result.rows[0]["throughput"]  # seed 0 is the baseline
    assert len({r["ttft_p99"] for r in rows}) == 3  # each seed draws its own traffic
    sc = load_scenario("tiny", catalog)
    one = run_scenario(sc.model_copy(update={"seed": 1}), catalog).summary
    assert rows[1]["ttft_p99"] == pytest.approx(one.ttft_s.p99)
    # every predicted figure carries its prediction interval
    for r in rows:
        assert r["throughput_p10"] < r["throughput"] < r["throughput_p90"]
        assert r["ttft_p99_p10"] < r["ttft_p99"] < r["ttft_p99_p90"]
        assert r["throughput_basis"].endswith("cases")
