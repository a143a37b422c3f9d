"""The parsed-catalog cache (``accelsim.catalog.file_cache``, issue 18): keyed by each file's
content hash, so a changed, added or removed file is seen at once; a corrupt cache is an empty
one; what comes back from the cache equals what parsing gives."""

from __future__ import annotations

import datetime
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from accelsim.catalog import file_cache
from accelsim.catalog.loader import builtin_root, load_catalog
from accelsim.catalog.text import read_yaml
from accelsim.errors import CatalogError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(folder))
    return folder


def _no_parsing(monkeypatch):
    def refuse(text, name):
        raise AssertionError(f"{name} parsed although cached")

    monkeypatch.setattr(file_cache, "parse_yaml", refuse)


def test_a_hit_is_the_parsed_data_and_a_change_is_seen(cache, tmp_path, monkeypatch):
    path = tmp_path / "a.yaml"
    path.write_text("name: a\nsize: 3\nrate: 1.5e-7\nitems: [x, 2, true, null]\n")
    first = file_cache.ParsedFiles()
    assert first.read(path) == read_yaml(path)
    first.save()
    assert file_cache.cache_file().parent == cache
    with monkeypatch.context() as m:
        _no_parsing(m)
        again = file_cache.ParsedFiles()
        got = again.read(path)
        assert got == {"name": "a", "size": 3, "rate": 1.5e-7, "items": ["x", 2, True, None]}
        assert type(got["size"]) is int and type(got["items"][2]) is bool
        got["size"] = 99  # each hit is a fresh object
        assert again.read(path)["size"] == 3
    path.write_text("name: a\nsize: 4\n")  # new bytes, new key: parsed again
    assert file_cache.ParsedFiles().read(path) == {"name": "a", "size": 4}


def test_a_corrupt_cache_is_an_empty_one(cache, tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text("name: a\nsize: 3\n")
    pf = file_cache.ParsedFiles()
    pf.read(path)
    pf.save()
    target = file_cache.cache_file()
    for corrupt in ("", "{not json", "[1, 2]", json.dumps({"k": 3}), "\x00\xff"):
        target.write_text(corrupt, encoding="latin-1")
        again = file_cache.ParsedFiles()
        assert again.read(path) == {"name": "a", "size": 3}
        again.save()
        assert len(json.loads(target.read_text())) >= 1


def test_keys_that_are_not_strings_come_back_as_they_were(cache, tmp_path, monkeypatch):
    path = tmp_path / "k.yaml"
    path.write_text('by_ranks: {1: 0.5, 2: [a, {3: x}]}\nother: {"\\0pairs": 1}\n')
    pf = file_cache.ParsedFiles()
    want = {"by_ranks": {1: 0.5, 2: ["a", {3: "x"}]}, "other": {"\0pairs": 1}}
    assert pf.read(path) == want
    pf.save()
    _no_parsing(monkeypatch)
    got = file_cache.ParsedFiles().read(path)
    assert got == want and [type(k) for k in got["by_ranks"]] == [int, int]


def test_data_json_cannot_hold_is_parsed_every_time(cache, tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("when: 2024-05-01\n")
    pf = file_cache.ParsedFiles()
    assert pf.read(path) == {"when": datetime.date(2024, 5, 1)}
    assert pf.new == 0 and not pf.known


def test_a_bad_file_is_the_usual_error_and_never_kept(cache, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(CatalogError) as cached:
        file_cache.ParsedFiles().read(path)
    with pytest.raises(CatalogError) as plain:
        read_yaml(path)
    assert str(cached.value) == str(plain.value)
    assert "duplicate key" in str(cached.value)
    assert not file_cache.cache_file().exists()


def test_catalog_from_the_cache_equals_the_parsed_one(cache, tmp_path, monkeypatch):
    """A user catalog folder: the second load parses nothing and gives the same entries; an
    edited card changes, an added one appears, a removed one is gone."""
    root = tmp_path / "mine"
    (root / "devices" / "cards").mkdir(parents=True)
    src = builtin_root() / "devices" / "cards" / "a100-sxm4-80gb.yaml"
    body = src.read_text().replace("name: a100-sxm4-80gb", "name: my-card")
    (root / "devices" / "cards" / "my-card.yaml").write_text(body)
    first = load_catalog([str(root)])
    with monkeypatch.context() as m:
        _no_parsing(m)
        second = load_catalog([str(root)])
    assert second.device("my-card") == first.device("my-card")
    assert second.device("a100-sxm4-80gb") == first.device("a100-sxm4-80gb")
    (root / "devices" / "cards" / "my-card.yaml").write_text(
        body.replace("compute_units: {value: 108,", "compute_units: {value: 100,")
    )
    assert load_catalog([str(root)]).device("my-card").compute_units == 100
    (root / "devices" / "cards" / "b.yaml").write_text(body.replace("name: my-card", "name: b"))
    assert "b" in load_catalog([str(root)]).names("device")
    (root / "devices" / "cards" / "b.yaml").unlink()
    assert "b" not in load_catalog([str(root)]).names("device")


def test_one_process_reads_the_cache_once_and_sees_a_change(cache, tmp_path, monkeypatch):
    """``read_cached`` (the generated files beside the catalog, e.g. ``intervals.yaml``) goes
    through this process's one ``shared`` copy of the cache and writes new entries back, so
    another process (a fresh ``ParsedFiles``) parses nothing; new bytes are parsed again."""
    path = tmp_path / "a.yaml"
    path.write_text("name: a\nsize: 3\n")
    assert file_cache.shared() is file_cache.shared()
    assert file_cache.read_cached(path) == {"name": "a", "size": 3}
    with monkeypatch.context() as m:
        _no_parsing(m)
        assert file_cache.read_cached(path) == {"name": "a", "size": 3}
        assert file_cache.ParsedFiles().read(path) == {"name": "a", "size": 3}
    path.write_text("name: a\nsize: 4\n")
    assert file_cache.read_cached(path) == {"name": "a", "size": 4}


def test_cache_is_keyed_by_the_yaml_parser(cache, monkeypatch):
    """The cache file's name hashes PyYAML's ``__init__.py`` (found without importing it): a
    different PyYAML starts a new file."""
    here = file_cache.cache_file()
    monkeypatch.setattr(file_cache.importlib.util, "find_spec", lambda name: None)
    assert file_cache.cache_file() != here and file_cache.cache_file().parent == cache


def test_threads_share_the_cache(cache, tmp_path):
    """Catalogs built in several threads (``size`` prices devices in threads) read and write
    the one shared copy at once: every file comes back as parsed, and the file holds them all."""
    paths = []
    for i in range(40):
        p = tmp_path / f"f{i}.yaml"
        p.write_text(f"name: f{i}\nsize: {i}\n")
        paths.append(p)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(file_cache.read_cached, paths))
    assert got == [{"name": f"f{i}", "size": i} for i in range(40)]
    assert len(json.loads(file_cache.cache_file().read_text())) == 40
