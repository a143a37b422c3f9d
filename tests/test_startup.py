"""Start-up stays light (issue 18): building the command tree (what ``accelsim --help`` does)
imports none of the heavy optional packages — matplotlib is imported when a chart is drawn,
scipy when its one function is called, pint when a unit text not converted before is parsed
(the conversion cache in the user cache folder). ``accelsim --help`` imports no command module
and a command only its own. Checked in a fresh interpreter, by module names (no timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer.testing

from accelsim import cli, units

HEAVY = ("matplotlib", "scipy", "pint", "pandas", "ray", "weasyprint")


def _modules(code: str, cache: Path | None = None) -> set[str]:
    """Every module a fresh interpreter has imported after running ``code`` (with
    ``ACCELSIM_CACHE_DIR=cache`` when given)."""
    names = "sorted(sys.modules)"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({names}))"
    env = dict(os.environ)
    if cache is not None:
        env["ACCELSIM_CACHE_DIR"] = str(cache)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _imported(code: str, cache: Path | None = None) -> set[str]:
    return {m.split(".")[0] for m in _modules(code, cache)}


def test_command_tree_imports_no_heavy_package():
    loaded = _imported("import accelsim.cli")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_heavy_packages_load_when_used(tmp_path):
    loaded = _imported(
        "from accelsim.units import parse_quantity\n"
        "from accelsim.model.routing import expected_max_normal\n"
        "assert parse_quantity('1.6 TB/s', 'bandwidth') == 1.6e12\n"
        # Blom's approximation for n = 2: the normal quantile of 1.625 / 2.25, 0.58946
        "assert abs(expected_max_normal(2) - 0.58946) < 1e-5\n",
        tmp_path,
    )
    assert {"pint", "scipy"} <= loaded and "matplotlib" not in loaded


COMMAND_MODULES = {f"accelsim.cli.{module}" for module, _ in cli.COMMANDS.values()}


def test_listing_is_the_whole_tree_help(monkeypatch):
    """``accelsim --help`` renders from ``COMMANDS`` (no command module imported): the same
    text as the whole tree's help, so ``COMMANDS`` stays in step with the commands."""
    monkeypatch.setenv("COLUMNS", "100")
    runner = typer.testing.CliRunner()
    listing = runner.invoke(cli._listing(), ["--help"])
    whole = runner.invoke(cli.app, ["--help"])
    assert listing.exit_code == whole.exit_code == 0
    assert "tune" in listing.output
    assert listing.output == whole.output, "a command's docstring changed: update cli.COMMANDS"


def test_help_imports_no_command_module():
    loaded = _modules(
        "from accelsim.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit: pass"
    )
    assert loaded.isdisjoint(COMMAND_MODULES), sorted(loaded & COMMAND_MODULES)
    assert "accelsim.catalog.loader" not in loaded


def test_a_command_imports_only_its_module():
    line = "catalog --json"
    loaded = _modules(f"from accelsim.cli import main\nmain({line.split()!r})")
    assert loaded & COMMAND_MODULES == {"accelsim.cli.catalog_cmds"}


def test_a_module_of_one_command_still_runs_as_a_subcommand():
    """``run`` is its module's only command: loaded alone it must still be ``accelsim run``
    (typer would make a lone command the whole app and read ``run`` as its argument)."""
    probe = (
        "from accelsim.cli import main\ntry:\n    main(['run', '--help'])\nexcept SystemExit: pass"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: accelsim run [OPTIONS]" in " ".join(out.split())


PARSE = (
    "from accelsim.units import parse_quantity\n"
    "print(repr(parse_quantity('1.6 TB/s', 'bandwidth')), repr(parse_quantity('7 us', 'time')))"
)


def _parse_run(cache: Path) -> tuple[str, set[str]]:
    probe = f"{PARSE}\nimport sys\nprint('pint' in sys.modules)"
    env = {**os.environ, "ACCELSIM_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    ).stdout.split("\n")
    return out[0], {"pint"} if out[1] == "True" else set()


def test_unit_conversions_are_cached_across_processes(tmp_path):
    """First process: pint converts and the cache is written at exit; second: the same texts
    come back bit for bit without pint; a corrupt file is an empty cache (pint again, same
    values, and the file is rewritten whole)."""
    values, used = _parse_run(tmp_path)
    assert values == "1600000000000.0 7e-06" and used == {"pint"}
    (cache_file,) = tmp_path.glob("units-*.json")
    assert json.loads(cache_file.read_text())["time\t7 us"] == 7e-06
    assert _parse_run(tmp_path) == (values, set())
    for corrupt in ("{not json", '["a list"]', '{"bandwidth\\t1.6 TB/s": "text"}', ""):
        cache_file.write_text(corrupt)
        assert _parse_run(tmp_path) == (values, {"pint"})
        assert json.loads(cache_file.read_text())["bandwidth\t1.6 TB/s"] == 1.6e12


def test_unit_cache_is_keyed_by_this_module_and_pint(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCELSIM_CACHE_DIR", str(tmp_path))
    here = units._cache_file()
    assert here.parent == tmp_path
    monkeypatch.setattr(units, "version", lambda name: "0.0-other")
    assert units._cache_file() != here


STEP_ARGS = "step llama-2-70b -d a100-sxm4-80gb --plan tp=4 --decode-batch 64 --json"
STEP = (
    f"from accelsim.cli import main\ntry:\n    main({STEP_ARGS!r}.split())\nexcept SystemExit: pass"
)


def test_step_imports_no_simulator_and_with_a_warm_cache_no_yaml(tmp_path):
    """``accelsim step`` attaches its prediction interval without the simulator or the
    validation cases (``validate.intervals`` reads ``intervals.yaml`` alone, through the
    parsed-file cache), and once a first run has cached its files it imports neither PyYAML
    nor pint."""
    first = _modules(STEP, tmp_path)
    loaded = _modules(STEP, tmp_path)
    away = {
        "simpy",
        "accelsim.sim.engine",
        "accelsim.run.scenario",
        "accelsim.validate.cases",
        "accelsim.validate.predict",
    }
    assert not (first | loaded) & away, sorted((first | loaded) & away)
    assert "yaml" in {m.split(".")[0] for m in first}
    tops = {m.split(".")[0] for m in loaded}
    assert "yaml" not in tops and "pint" not in tops
