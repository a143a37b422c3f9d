"""The shipped device catalog (``devices/``): loads, is sourced, cross-references resolve.

Spot values are hand-checked against ``reference/hardware.md``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.catalog.devices import Card, Fabric, Server
from accelsim.catalog.loader import builtin_root, load_catalog, read_yaml, split_provenance
from accelsim.dtypes import UnsupportedDtypeError

ROOT = builtin_root() / "devices"
FOLDERS = {"device": "cards", "server": "servers", "fabric": "fabrics", "framework": "frameworks"}
FILES = sorted(p for folder in FOLDERS.values() for p in (ROOT / folder).glob("*.yaml"))


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_catalog_has_the_expected_items(catalog):
    assert len(FILES) >= 35
    for name in ("ascend-910b2", "ascend-910c", "a100-sxm4-80gb", "h100-sxm5", "mi300x"):
        assert name in catalog.names("device")
    for name in ("atlas-800t-a2", "cloudmatrix384", "dgx-a100", "hgx-h100"):
        assert name in catalog.names("server")
    for name in ("hccs-910b", "ub-910c", "nvswitch-a100", "roce-200g", "ib-ndr"):
        assert name in catalog.names("fabric")


def test_every_entry_validates(catalog):
    schemas = {"device": Card, "server": Server, "fabric": Fabric}
    for kind, schema in schemas.items():
        entries = catalog.all(kind)
        assert entries, kind
        for entry in entries:
            assert isinstance(entry, schema)
            assert entry.file and Path(entry.file).stem == entry.name


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_every_number_has_provenance(path, catalog):
    kind = {v: k for k, v in FOLDERS.items()}[path.parent.name]
    problems = catalog.provenance_problems(kind, path.stem)
    assert not problems, f"{path}: {problems}"


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_sources_resolve_and_assumptions_are_explained(path, catalog):
    raw = read_yaml(path)
    kind = {v: k for k, v in FOLDERS.items()}[path.parent.name]
    entry = catalog.get(kind, path.stem)
    # entry.sources holds the file's own sources merged over its parent's (``extends``)
    _, own = split_provenance(raw, raw.get("provenance_default"))
    for field, prov in own.items():
        for src in prov.src:
            assert src in entry.sources, f"{path}: {field} cites {src!r}, not in sources"
        if prov.conf == "A":
            assert prov.note, f"{path}: {field} is an assumption (conf A) without a note"
        assert prov.conf != "O", f"{path}: shipped files carry no what-if overrides"
    for sid, source in entry.sources.items():
        assert source.title, f"{path}: source {sid} has no title"
        assert source.url or source.document or source.date, f"{path}: source {sid} unlocated"


def test_cross_references_resolve(catalog):
    servers = set(catalog.names("server"))
    for card in catalog.all("device"):
        assert card.default_server in servers, card.name
    for server in catalog.all("server"):
        catalog.device(server.card)
        assert catalog.fabric(server.scale_up_fabric).tier == "scale_up", server.name
        assert catalog.fabric(server.scale_out_fabric).tier == "scale_out", server.name
        assert server.scale_up_domain_cards >= 1


def test_a100_sxm4_80gb(catalog):
    card = catalog.device("a100-sxm4-80gb")
    assert card.peak("bf16") == pytest.approx(312e12)
    assert card.hbm_bandwidth == pytest.approx(2.039e12)
    assert card.hbm_capacity == pytest.approx(80e9)
    assert card.peak("int4") == pytest.approx(1248e12)
    assert not card.supports("fp8")
    assert card.efficiency.gemm_fraction == pytest.approx(271.2 / 312, abs=1e-3)
    assert card.provenance["peak_flops.bf16"].conf == "V"


def test_h100_sxm5(catalog):
    card = catalog.device("h100-sxm5")
    assert card.peak("bf16") == pytest.approx(989.4e12)
    assert card.peak("fp8") == pytest.approx(2 * card.peak("bf16"), rel=1e-4)
    assert card.hbm_bandwidth == pytest.approx(3.35e12)
    assert not card.supports("int4")
    assert catalog.server_for(card).name == "hgx-h100"


def test_ascend_910b2_has_no_fp8(catalog):
    card = catalog.device("ascend-910b2")
    assert card.peak("bf16") == pytest.approx(353.9e12)
    assert card.hbm_capacity == 64 * 2**30
    assert not card.supports("fp8")
    with pytest.raises(UnsupportedDtypeError) as err:
        card.peak("fp8")
    assert "ascend-910b2" in str(err.value)
    assert "fp8" in str(err.value)


def test_ascend_910c_is_a_two_die_package(catalog):
    card = catalog.device("ascend-910c")
    assert card.dies == 2
    assert card.peak("bf16") == pytest.approx(752e12)
    assert card.hbm_capacity == pytest.approx(128e9)
    assert card.hbm_bandwidth == pytest.approx(3.2e12)
    assert not card.supports("fp8")
    cm = catalog.server("cloudmatrix384")
    assert cm.card == "ascend-910c"
    assert cm.scale_up_domain_cards == 384
    assert cm.cards_per_node == 8


def test_ascend_variants_scale_with_cores_and_clock(catalog):
    # FP16/BF16 = AI cube cores x 4096 MAC x 2 x cube clock; INT8 = 2x, INT4 = 4x.
    clocks = {
        "ascend-910b1": 1.85e9,
        "ascend-910b2": 1.8e9,
        "ascend-910b3": 1.8e9,
        "ascend-910b4": 1.5e9,
    }
    for name, clock in clocks.items():
        card = catalog.device(name)
        bf16 = card.compute_units * 4096 * 2 * clock
        assert card.peak("bf16") == pytest.approx(bf16, rel=1e-3), name
        assert card.peak("int8") == pytest.approx(2 * bf16, rel=1e-3), name
        assert card.peak("int4") == pytest.approx(4 * bf16, rel=1e-3), name


def test_no_fp8_before_hopper_and_no_int4_on_hopper(catalog):
    for name in (
        "a100-sxm4-40gb",
        "a100-sxm4-80gb",
        "a100-pcie-80gb",
        "a800",
        "ascend-910b1",
        "ascend-910b2",
        "ascend-910b3",
        "ascend-910b4",
        "ascend-910c",
    ):
        assert not catalog.device(name).supports("fp8"), name
    for name in ("h100-sxm5", "h800", "h20", "h200"):
        card = catalog.device(name)
        assert card.supports("fp8") and not card.supports("int4"), name
    for name in ("a100-sxm4-40gb", "a100-sxm4-80gb", "a100-pcie-80gb", "a800"):
        assert catalog.device(name).peak("int4") == pytest.approx(1248e12), name


def test_seed_claim_variant_changes_only_the_peaks(catalog):
    parent = catalog.device("ascend-910b2")
    child = catalog.device("ascend-910b2-seed-claim")
    assert child.hypothetical and not parent.hypothetical
    assert child.extends == "ascend-910b2"
    assert child.peak("bf16") == pytest.approx(256e12)
    assert child.peak("fp16") == pytest.approx(256e12)
    assert child.peak("int8") == pytest.approx(512e12)
    assert child.peak("int4") == pytest.approx(1024e12)
    assert set(child.peak_flops) == set(parent.peak_flops)
    assert child.provenance["peak_flops.bf16"].conf == "R"
    skip = {"name", "extends", "hypothetical", "description", "provenance", "file", "peak_flops"}
    assert child.model_dump(exclude=skip) == parent.model_dump(exclude=skip)


#: card families (``extends``): the base states the shared silicon's values once
FAMILIES = {
    "a100-sxm4-80gb": ("a100-sxm4-40gb", "a100-pcie-80gb", "a800"),  # GA100
    "h100-sxm5": ("h800", "h200"),  # GH100 (the H20 is its own card: 78 SMs, capped compute)
    "ascend-910b2": ("ascend-910b1", "ascend-910b3", "ascend-910b4", "ascend-910c"),  # 910B
}


@pytest.mark.parametrize("base", sorted(FAMILIES))
def test_card_families_inherit_the_shared_profile(base, catalog):
    """A family member extends its base; what its own file leaves out is the base's value, and
    the inherited provenance says so."""
    parent = catalog.device(base)
    assert parent.extends is None
    for name in FAMILIES[base]:
        card = catalog.device(name)
        assert card.extends == base, name
        own = read_yaml(ROOT / "cards" / f"{name}.yaml")
        for field in ("gemm_m_half", "hbm_fraction", "kernel_launch", "iteration_overhead"):
            if field not in own.get("efficiency", {}):
                assert getattr(card.efficiency, field) == getattr(parent.efficiency, field)
                note = card.provenance[f"efficiency.{field}"].note
                assert note.startswith(f"inherited from {base}"), (name, field)
        assert card.vendor == parent.vendor


def test_efficiency_profiles_are_plausible(catalog):
    for card in catalog.all("device"):
        eff = card.efficiency
        assert 0.4 < eff.gemm_fraction <= 1, card.name
        assert 0.3 < eff.collective_fraction <= 1, card.name
        assert 16 <= eff.gemm_m_half <= 256, card.name  # 64 assumed; Hopper: DeepGEMM fit
        assert 1e-6 <= eff.kernel_launch <= 20e-6, card.name
        assert 1e-3 <= eff.iteration_overhead <= 5e-3, card.name
        assert 0 < card.idle_power < card.tdp, card.name


def test_fabric_bandwidths(catalog):
    expect = {
        "nvswitch-a100": 300e9,
        "nvlink-a800": 200e9,
        "nvswitch-h100": 450e9,
        "nvswitch-h800": 200e9,
        "hccs-910b": 196e9,
        "ub-910c": 392e9,
        "roce-200g": 25e9,
        "roce-400g": 50e9,
        "ib-hdr": 25e9,
        "ib-ndr": 50e9,
        "xgmi-mi300x": 448e9,
        "pcie-gen4": 32e9,
    }
    for name, bandwidth in expect.items():
        assert catalog.fabric(name).bandwidth_per_card == pytest.approx(bandwidth), name
    for fabric in catalog.all("fabric"):
        if fabric.link_bandwidth and fabric.links_per_card:
            total = fabric.link_bandwidth * fabric.links_per_card
            assert total == pytest.approx(fabric.bandwidth_per_card, rel=0.01), fabric.name


def test_per_dtype_gemm_fractions(catalog):
    """Measured FP8 on Hopper (DeepGEMM's median large-M rate in aiconfigurator's tables; H20
    keeps the assumed MAMF) and INT8 AscendC GEMM on 910B (A23); others fall back."""
    h100 = catalog.device("h100-sxm5").efficiency
    assert h100.gemm_fraction_for("fp8") == pytest.approx(0.588)
    assert h100.gemm_fraction_for("bf16") == h100.gemm_fraction
    assert catalog.device("h200").efficiency.gemm_fraction_for("fp8") == pytest.approx(0.583)
    assert catalog.device("h800").efficiency.gemm_fraction_for("fp8") == pytest.approx(0.588)
    assert catalog.device("h20").efficiency.gemm_fraction_for("fp8") == pytest.approx(0.709)
    for name in ("ascend-910b1", "ascend-910b2", "ascend-910b3", "ascend-910b4", "ascend-910c"):
        assert catalog.device(name).efficiency.gemm_fraction_for("int8") == pytest.approx(0.77)
    a100 = catalog.device("a100-sxm4-80gb").efficiency
    assert a100.gemm_fraction_for("int8") == a100.gemm_fraction  # no source: falls back
    for card in catalog.all("device"):
        for dtype, frac in card.efficiency.gemm_fraction_by_dtype.items():
            assert card.supports(dtype), (card.name, dtype)
            assert 0.4 < frac <= 1, (card.name, dtype)


def test_gemm_fraction_by_dtype_must_be_a_fraction():
    base = Card.model_validate(
        {
            "name": "x",
            "vendor": "t",
            "display_name": "x",
            "compute_units": 1,
            "peak_flops": {"bf16": 1e14},
            "hbm_capacity": 1e9,
            "hbm_bandwidth": 1e12,
            "tdp": 100.0,
            "idle_power": 10.0,
            "efficiency": {
                "gemm_fraction": 0.8,
                "gemm_m_half": 64,
                "hbm_fraction": 0.8,
                "collective_fraction": 0.8,
                "kernel_launch": 1e-6,
                "iteration_overhead": 1e-3,
            },
        }
    )
    data = base.model_dump(exclude={"provenance"})
    data["efficiency"]["gemm_fraction_by_dtype"] = {"bf16": 1.2}
    with pytest.raises(ValueError, match="gemm_fraction_by_dtype"):
        Card.model_validate(data)
    data["efficiency"]["gemm_fraction_by_dtype"] = {}
    data["efficiency"]["dequant_hbm_fraction"] = {"int8": 0.0}
    with pytest.raises(ValueError, match="dequant_hbm_fraction"):
        Card.model_validate(data)


def test_weight_only_dequant_fractions(catalog):
    """gpt-fast's INT8/INT4 weight-only rows on A100 (M20): weights narrower than the math
    stream at the dequant fraction; 16-bit weights, W8A8 and cards without an entry use
    hbm_fraction."""
    a100 = catalog.device("a100-sxm4-80gb").efficiency
    assert a100.weight_hbm_fraction("int8", "bf16") == pytest.approx(0.66)
    assert a100.weight_hbm_fraction("int4", "fp16") == pytest.approx(0.45)
    assert a100.weight_hbm_fraction("bf16", "bf16") == a100.hbm_fraction
    assert a100.weight_hbm_fraction("int8", "int8") == a100.hbm_fraction
    h100 = catalog.device("h100-sxm5").efficiency
    assert h100.weight_hbm_fraction("int8", "bf16") == h100.hbm_fraction  # no source: falls back
    for card in catalog.all("device"):
        eff = card.efficiency
        for dtype, frac in eff.dequant_hbm_fraction.items():
            assert dtype in ("int8", "int4", "fp8"), (card.name, dtype)
            assert 0.3 < frac <= eff.hbm_fraction, (card.name, dtype)


def test_scale_out_fabrics_carry_measured_fractions(catalog):
    expect = {"ib-ndr": 0.94, "roce-400g": 0.94, "ib-hdr": 0.85, "roce-200g": 0.90}
    for name, frac in expect.items():
        fab = catalog.fabric(name)
        assert fab.achievable_fraction == pytest.approx(frac), name
        assert fab.fraction(0.5) == pytest.approx(frac), name
    nvswitch = catalog.fabric("nvswitch-h100")
    assert nvswitch.achievable_fraction is None
    assert nvswitch.fraction(0.8) == 0.8  # falls back to the card's collective_fraction
