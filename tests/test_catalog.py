"""Catalog loading: user folders, extends, what-if overrides, and one-line errors for bad files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from accelsim.catalog.loader import builtin_root, load_catalog, parse_override
from accelsim.errors import AccelsimError, CatalogError, UnknownNameError
from accelsim.units import parse_quantity


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_root_has_the_three_catalogs():
    root = builtin_root()
    for folder in ("devices", "workloads", "tco"):
        assert (root / folder).is_dir()


def test_user_catalog_extends_and_overrides_builtin(tmp_path):
    _write(
        tmp_path,
        "devices/cards/my-910b2-hbm3.yaml",
        """\
        extends: ascend-910b2
        description: what if the 910B2 had HBM3
        hbm_bandwidth: {value: 3.2 TB/s, conf: A, note: what-if}
        """,
    )
    cat = load_catalog([str(tmp_path)])
    child, parent = cat.device("my-910b2-hbm3"), cat.device("ascend-910b2")
    assert child.hbm_bandwidth == 3.2e12
    assert child.peak_flops == parent.peak_flops  # inherited
    assert child.extends == "ascend-910b2"


def test_user_file_with_builtin_name_replaces_it(tmp_path):
    base = load_catalog()
    raw, _ = base.raw("device", "ascend-910b2")
    raw = dict(raw, display_name="Replaced 910B2")
    import yaml

    _write(tmp_path, "devices/cards/ascend-910b2.yaml", yaml.safe_dump(raw))
    assert load_catalog([str(tmp_path)]).device("ascend-910b2").display_name == "Replaced 910B2"


def test_env_variable_adds_catalog(tmp_path, monkeypatch):
    _write(tmp_path, "devices/cards/envcard.yaml", "extends: ascend-910b2\n")
    monkeypatch.setenv("ACCELSIM_CATALOG", str(tmp_path))
    assert "envcard" in load_catalog().names("device")


def test_broken_user_file_is_named(tmp_path):
    bad = _write(tmp_path, "devices/cards/broken.yaml", "name: broken\nvendor: [unclosed\n")
    with pytest.raises(CatalogError, match=str(bad)):
        load_catalog([str(tmp_path)])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("extends: ascend-910b2\nwarp_drive: 3\n", "field warp_drive: unknown field"),
        ("extends: ascend-910b2\nhbm_bandwidth: 1.6 TB\n", "field hbm_bandwidth"),
        ("extends: ascend-910b2\nhbm_bandwidth: -5\n", "field hbm_bandwidth"),
        ("vendor: x\n", "missing required field"),
        ("extends: ascend-910x\n", "did you mean"),
    ],
)
def test_bad_fields_name_file_and_field(tmp_path, body, message):
    path = _write(tmp_path, "devices/cards/bad.yaml", body)
    cat = load_catalog([str(tmp_path)])
    with pytest.raises(CatalogError) as err:
        cat.device("bad")
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_extends_cycle_is_an_error(tmp_path):
    _write(tmp_path, "devices/cards/a.yaml", "extends: b\n")
    _write(tmp_path, "devices/cards/b.yaml", "extends: a\n")
    with pytest.raises(CatalogError, match="cycle"):
        load_catalog([str(tmp_path)]).device("a")


def test_name_must_match_file(tmp_path):
    _write(tmp_path, "devices/cards/x.yaml", "name: y\n")
    with pytest.raises(CatalogError, match="must match the file name"):
        load_catalog([str(tmp_path)])


def test_unknown_name_suggests_close_ones(catalog):
    with pytest.raises(UnknownNameError, match="did you mean"):
        catalog.device("ascend-910b")


def test_override_parsing_units_nested_and_marks():
    cat = load_catalog(
        overrides=[
            "device.ascend-910b2.hbm_bandwidth=3.2TB/s",
            "device.ascend-910b2.efficiency.hbm_fraction=0.9",
            "device.ascend-910b2.peak_flops.fp16=256 TFLOPS",
        ]
    )
    d = cat.device("ascend-910b2")
    assert d.hbm_bandwidth == 3.2e12
    assert d.efficiency.hbm_fraction == 0.9
    assert d.peak_flops["fp16"] == 256e12
    marks = d.overridden()
    assert set(marks) == {"hbm_bandwidth", "efficiency.hbm_fraction", "peak_flops.fp16"}
    assert marks["hbm_bandwidth"].override_of == "1.6 TB/s"
    # other entries untouched, and the plain catalog is unchanged
    assert load_catalog().device("ascend-910b2").hbm_bandwidth == 1.6e12


def test_repeated_override_last_wins():
    cat = load_catalog(overrides={"device.ascend-910b2.hbm_bandwidth": "2TB/s"})
    assert cat.device("ascend-910b2").hbm_bandwidth == 2e12
    cat = load_catalog(
        overrides=[
            "device.ascend-910b2.hbm_bandwidth=2TB/s",
            "device.ascend-910b2.hbm_bandwidth=3TB/s",
        ]
    )
    assert cat.device("ascend-910b2").hbm_bandwidth == 3e12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("device.ascend-910b2.hbm_bandwidth=3.2TB", "hbm_bandwidth"),
        ("device.ascend-910b2.warp=1", "unknown field"),
        ("device.nosuch.hbm_bandwidth=1", "unknown device"),
        ("device.ascend-910b2.hbm_bandwidth", "KIND.NAME.FIELD=VALUE"),
        ("gizmo.x.y=1", "unknown catalog kind"),
    ],
)
def test_bad_overrides_are_one_clear_error(text, message):
    with pytest.raises(AccelsimError, match=message):
        load_catalog(overrides=[text]).device("ascend-910b2")


def test_override_names_with_dots():
    o = parse_override("model.llama-3.3-70b.max_context=1", {"model": ["llama-3.3-70b"]})
    assert (o.kind, o.name, o.field, o.value) == ("model", "llama-3.3-70b", "max_context", "1")
    s = parse_override("scenario.traffic.rate=40/s")
    assert (s.kind, s.name, s.field) == ("scenario", None, "traffic.rate")


def test_repeated_override_keeps_the_file_value_as_the_catalog_value():
    cat = load_catalog(
        overrides=[
            "device.ascend-910b2.hbm_bandwidth=2TB/s",
            "device.ascend-910b2.hbm_bandwidth=3.2TB/s",
        ]
    )
    card = cat.device("ascend-910b2")
    assert card.hbm_bandwidth == pytest.approx(3.2e12)
    prov = card.provenance["hbm_bandwidth"]
    assert prov.conf == "O"
    assert load_catalog().device("ascend-910b2").hbm_bandwidth == pytest.approx(
        parse_quantity(prov.override_of, "bandwidth")
    )
