"""A scenario file's validated ``Scenario`` kept across processes (``read_scenario`` through
``accelsim.catalog.entry_cache``, issue 18): it comes back equal to what validation gives; a
changed file, changed overrides or changed code is a miss; a raw mapping is never kept; the
code list covers every module the schema is built from. And the start-up laziness of ``run``:
it imports neither the recipe writers nor the sweep runner."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import accelsim.run.scenario as scenario_mod
from accelsim.catalog import entry_cache
from accelsim.catalog.loader import builtin_root, load_catalog
from accelsim.errors import CatalogError
from accelsim.run.resolve import load_scenario
from accelsim.run.scenario import SCENARIO_CODE, Scenario, _content_key, read_scenario

PACKAGE = Path(scenario_mod.__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _kept():
    return sorted(entry_cache.ValidatedEntries(scenario_mod.SCENARIO_CODE).folder.glob("*.pickle"))


def _no_validation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("validated although cached")

    monkeypatch.setattr(Scenario, "model_validate", refuse)


def _scenario_file(tmp_path, seed=1):
    body = (builtin_root() / "workloads" / "scenarios" / "tiny.yaml").read_text()
    path = tmp_path / "mine.yaml"
    assert "\nseed: 0\n" in body
    path.write_text(body.replace("\nseed: 0\n", f"\nseed: {seed}\n"))
    return path


def test_a_kept_scenario_equals_the_validated_one(cache, tmp_path, monkeypatch):
    cat = load_catalog()
    path = _scenario_file(tmp_path)
    first = read_scenario(path, cat)
    assert len(_kept()) == 1
    _no_validation(monkeypatch)
    second = read_scenario(path, cat)
    assert second == first and second.model_fields_set == first.model_fields_set
    assert second.seed == 1 and second.name == "tiny"


def test_a_changed_file_or_override_is_validated_again(cache, tmp_path):
    cat = load_catalog()
    path = _scenario_file(tmp_path, seed=1)
    assert read_scenario(path, cat).seed == 1
    path.write_text(path.read_text().replace("seed: 1", "seed: 7"))
    assert read_scenario(path, cat).seed == 7
    with_set = load_catalog(overrides=["scenario.seed=11"])
    assert read_scenario(path, with_set).seed == 11
    assert len(_kept()) == 3


def test_changed_code_is_another_folder(cache, tmp_path, monkeypatch):
    cat = load_catalog()
    path = _scenario_file(tmp_path)
    read_scenario(path, cat)
    extra = tmp_path / "extra.py"
    extra.write_text("A = 1\n")
    monkeypatch.setattr(scenario_mod, "SCENARIO_CODE", (*SCENARIO_CODE, str(extra)))
    assert _kept() == []
    read_scenario(path, cat)
    assert len(_kept()) == 1
    monkeypatch.setattr(entry_cache, "_DIGESTS", {})
    extra.write_text("A = 2\n")
    assert _kept() == []


def test_a_raw_mapping_or_an_invalid_file_keeps_nothing(cache, tmp_path):
    cat = load_catalog()
    raw = read_scenario("tiny", cat).model_dump(exclude={"resolved"})
    assert len(_kept()) == 1
    read_scenario(raw, cat)
    assert len(_kept()) == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: llama-3-8b\n")
    with pytest.raises(CatalogError, match="bad.yaml"):
        read_scenario(bad, cat)
    assert len(_kept()) == 1


def test_the_content_key_tells_types_apart():
    keys = {_content_key({"x": v}) for v in (1, 1.0, True, "1", None, [1], {"a": 1})}
    assert len(keys) == 7 and None not in keys
    assert _content_key({"x": 1, "y": 2}) == _content_key({"y": 2, "x": 1})
    assert _content_key({"x": (1, 2)}) is None
    assert _content_key({1: "x"}) is None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("accelsim"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("accelsim")}
    return found


def _source(module: str) -> Path:
    base = PACKAGE.parent / module.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def test_the_code_list_covers_every_module_the_schema_imports():
    seen, todo = set(), ["accelsim.run.scenario"]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += sorted(_imports(_source(module)))
    covered = set(entry_cache._VOCABULARY) | {"catalog"}
    outside = {str(_source(m)) for m in seen if m != "accelsim" and m.split(".")[1] not in covered}
    assert outside and outside <= set(SCENARIO_CODE), sorted(outside - set(SCENARIO_CODE))


def test_run_imports_neither_recipes_nor_the_sweep_runner():
    code = (
        "import sys, accelsim.cli.run_cmds;"
        "print(sorted(m for m in sys.modules if m.startswith(('accelsim.report.recipes.',"
        "'accelsim.sweep.runner', 'accelsim.sweep.spec', 'accelsim.sweep.store',"
        "'accelsim.sweep.pareto'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    import accelsim.report.recipes as recipes
    import accelsim.sweep as sweep

    assert recipes.emit_recipe.__module__ == "accelsim.report.recipes.emit"
    assert sweep.run_sweep.__module__ == "accelsim.sweep.runner"
    assert all(getattr(sweep, name) is not None for name in sweep.__all__)


def _digest_files():
    folder = entry_cache.ValidatedEntries(scenario_mod.SCENARIO_CODE).folder
    return sorted(folder.glob("*.pickle"))


def test_a_digest_before_the_schema_is_built_comes_from_the_cache(cache, monkeypatch):
    cat = load_catalog()
    sc = load_scenario("tiny", cat)
    other = sc.model_copy(update={"seed": sc.seed + 1})
    want, want_other = sc._computed_digest(), other._computed_digest()
    assert want != want_other
    monkeypatch.setattr(Scenario, "__pydantic_complete__", False)
    before = len(_digest_files())
    assert sc.digest == want
    assert len(_digest_files()) == before + 1

    def refuse(self):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(Scenario, "_computed_digest", refuse)
    assert sc.digest == want
    assert sc.model_copy().digest == want  # an equal state, another object
    with pytest.raises(AssertionError, match="computed although cached"):
        other.digest  # noqa: B018  (another state is a miss)


def test_the_state_key_is_the_same_under_any_string_hash_seed():
    code = (
        "import hashlib, io;"
        "from accelsim.catalog.loader import load_catalog;"
        "from accelsim.run.resolve import load_scenario;"
        "from accelsim.run.scenario import _StatePickler;"
        "sc = load_scenario('tiny', load_catalog());"
        "b = io.BytesIO(); _StatePickler(b, protocol=5).dump(sc);"
        "print(hashlib.sha256(b.getvalue()).hexdigest())"
    )
    keys = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        keys.add(out.stdout.strip())
    assert len(keys) == 1
