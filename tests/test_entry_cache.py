"""The validated-entry cache (``accelsim.catalog.entry_cache``, issue 18): an entry comes back
equal to what validation gives; a changed file, a changed ancestor or a changed code version
is a miss; a what-if override is never cached; a damaged file is a miss; the folder is
bounded."""

from __future__ import annotations

import pickle

import pytest

from accelsim.catalog import entry_cache
from accelsim.catalog.devices import Card
from accelsim.catalog.loader import KINDS, Catalog, builtin_root, load_catalog
from accelsim.errors import CatalogError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(folder))
    return folder


def _no_validation(monkeypatch):
    def refuse(self, key, name):
        raise AssertionError(f"{key} {name} validated although cached")

    monkeypatch.setattr(Catalog, "_validate", refuse)


def _entries(cache):
    return sorted(cache.glob("entries-*/*.pickle"))


def _user_root(tmp_path, name="my-card", compute_units=108):
    root = tmp_path / "mine"
    (root / "devices" / "cards").mkdir(parents=True, exist_ok=True)
    src = builtin_root() / "devices" / "cards" / "a100-sxm4-80gb.yaml"
    body = src.read_text().replace("name: a100-sxm4-80gb", f"name: {name}")
    body = body.replace("compute_units: {value: 108,", f"compute_units: {{value: {compute_units},")
    (root / "devices" / "cards" / f"{name}.yaml").write_text(body)
    return root


def test_every_builtin_entry_from_the_cache_equals_the_validated_one(cache, monkeypatch):
    first = load_catalog()
    want = {(k, n): first.get(k, n) for k in KINDS for n in first.names(k)}
    assert len(_entries(cache)) == len(want)
    _no_validation(monkeypatch)
    second = load_catalog()
    for (kind, name), entry in want.items():
        got = second.get(kind, name)
        assert type(got) is type(entry) and got == entry, (kind, name)
        assert got.provenance == entry.provenance and got.file == entry.file


def test_a_changed_file_or_ancestor_is_validated_again(cache, tmp_path, monkeypatch):
    root = _user_root(tmp_path)
    cards = root / "devices" / "cards"
    (cards / "child.yaml").write_text("name: child\nextends: my-card\ndisplay_name: Child\n")
    assert load_catalog([str(root)]).device("child").compute_units == 108
    with monkeypatch.context() as m:
        _no_validation(m)
        assert load_catalog([str(root)]).device("child").display_name == "Child"
    _user_root(tmp_path, compute_units=100)  # the parent's bytes change: so does the child
    again = load_catalog([str(root)])
    assert again.device("child").compute_units == 100
    assert again.device("my-card").compute_units == 100
    (cards / "child.yaml").write_text("name: child\nextends: my-card\ndisplay_name: Other\n")
    assert load_catalog([str(root)]).device("child").display_name == "Other"


def test_an_override_is_never_cached(cache, monkeypatch):
    plain = load_catalog().device("a100-sxm4-80gb")
    kept = len(_entries(cache))
    what_if = load_catalog(None, ["device.a100-sxm4-80gb.hbm_bandwidth=1TB/s"])
    assert what_if.device("a100-sxm4-80gb").hbm_bandwidth == 1e12
    assert len(_entries(cache)) == kept
    _no_validation(monkeypatch)
    assert load_catalog().device("a100-sxm4-80gb") == plain
    with pytest.raises(AssertionError, match="validated although cached"):
        load_catalog(None, ["device.a100-sxm4-80gb.tdp=300W"]).device("a100-sxm4-80gb")


def test_a_damaged_or_foreign_file_is_a_miss(cache):
    want = load_catalog().device("a100-sxm4-80gb")
    (path,) = (p for p in _entries(cache) if b"a100-sxm4-80gb" in p.read_bytes())
    for blob in (b"", b"\x80\x05garbage", pickle.dumps({"a": 1}), pickle.dumps(want.tdp)):
        path.write_bytes(blob)
        got = load_catalog().device("a100-sxm4-80gb")
        assert type(got) is Card and got == want
        assert pickle.loads(path.read_bytes()) == want  # written again, whole


def test_a_bad_file_is_the_usual_error_and_never_kept(cache, tmp_path):
    root = _user_root(tmp_path)
    path = root / "devices" / "cards" / "my-card.yaml"
    path.write_text(
        path.read_text().replace("compute_units: {value: 108,", "compute_units: {value: -1,")
    )
    for _ in range(2):
        with pytest.raises(CatalogError, match="my-card.yaml: field compute_units"):
            load_catalog([str(root)]).device("my-card")
    assert not [p for p in _entries(cache) if b"my-card" in p.read_bytes()]


def test_the_code_version_names_the_folder(cache, monkeypatch):
    here = entry_cache.ValidatedEntries().folder
    assert here.parent == cache
    assert entry_cache.ValidatedEntries([entry_cache.__file__]).folder != here
    monkeypatch.setattr(entry_cache, "_DIGESTS", {})
    monkeypatch.setattr(entry_cache, "pint_version", lambda: "pint-0.0.dist-info")
    assert entry_cache.ValidatedEntries().folder != here


def test_the_folder_is_bounded(cache, monkeypatch):
    monkeypatch.setattr(entry_cache, "MAX_FILES", 4)
    entries = entry_cache.ValidatedEntries()
    for i in range(10):
        entries.put(("n", str(i)), i)
        assert len(list(entries.folder.glob("*.pickle"))) <= 4
    assert entries.get(("n", "9"), int) == 9
