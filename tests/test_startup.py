"""Start-up stays light (issue 18): building the command tree (what ``accelsim --help`` does)
imports none of the heavy optional packages — matplotlib is imported when a chart is drawn,
scipy when its one function is called, pint when a unit text not converted before is parsed
(the conversion cache in the user cache folder). ``accelsim --help`` imports no command module
and a command only its own. Checked in a fresh interpreter, by module names (no timing)."""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
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
    monkeypatch.setattr(units, "pint_version", lambda: "pint-0.0.dist-info")
    assert units._cache_file() != here


def testpint_version_is_read_without_its_metadata(monkeypatch, tmp_path):
    """The installed pint is named by its ``dist-info`` folder (the version pip recorded); with
    no such folder, by its metadata; with two (a stale one left behind), by its metadata."""
    installed = importlib.metadata.version("pint")
    assert units.pint_version() == f"pint-{installed}.dist-info"
    site = tmp_path / "site"
    (site / "pint").mkdir(parents=True)
    (site / "pint" / "__init__.py").write_text("")
    spec = importlib.machinery.ModuleSpec("pint", None, origin=str(site / "pint" / "__init__.py"))
    monkeypatch.setattr(units.importlib.util, "find_spec", lambda name: spec)
    assert units.pint_version() == installed
    (site / "pint-0.1.dist-info").mkdir()
    assert units.pint_version() == "pint-0.1.dist-info"
    (site / "pint-0.2.dist-info").mkdir()
    assert units.pint_version() == installed


STEP_ARGS = "step llama-2-70b -d a100-sxm4-80gb --plan tp=4 --decode-batch 64 --json"
STEP = (
    f"from accelsim.cli import main\ntry:\n    main({STEP_ARGS!r}.split())\nexcept SystemExit: pass"
)


#: After ``STEP``: the catalog and interval schemas whose validators were built.
BUILT = (
    "\nimport sys\nfrom accelsim.catalog.devices import Card, Server\n"
    "from accelsim.catalog.workloads import ModelArch\n"
    "from accelsim.validate.intervals import IntervalsFile\n"
    "built = [c.__name__ for c in (Card, Server, ModelArch, IntervalsFile)"
    " if c.__pydantic_complete__]\nprint(built, file=sys.stderr)"
)


def _step(cache: Path) -> tuple[set[str], str, str]:
    """The modules, standard output and built schemas of one ``STEP`` process."""
    names = "sorted(sys.modules)"
    probe = f"{STEP}{BUILT}\nimport json\nprint(json.dumps({names}))"
    env = {**os.environ, "ACCELSIM_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    *out, modules = done.stdout.strip().splitlines()
    return set(json.loads(modules)), "\n".join(out), done.stderr.strip().splitlines()[-1]


def test_step_imports_no_simulator_and_with_a_warm_cache_no_yaml(tmp_path):
    """``accelsim step`` attaches its prediction interval without the simulator or the
    validation cases (``validate.intervals`` reads ``intervals.yaml`` alone, through the
    parsed-file cache), and once a first run has cached its files it imports neither PyYAML
    nor pint, nor numpy (a dense model: no MoE routing, ``accelsim.lazy``), and builds neither
    the catalog's validators nor the intervals file's (``catalog.entry_cache``): the same
    output."""
    first, first_out, first_built = _step(tmp_path)
    loaded, out, built = _step(tmp_path)
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
    assert "yaml" not in tops and "pint" not in tops and "numpy" not in tops
    assert out == first_out and '"tokens_per_s_per_card"' in out
    assert first_built != "[]" and built == "[]"


def test_a_lazy_module_imports_at_its_first_attribute():
    """``accelsim.lazy.lazy_module``: nothing is imported until an attribute is read (not by
    the dunder probes of ``copy`` or ``pickle`` either); then it gives the module's own
    objects, kept on the stand-in, and a missing name is an ``AttributeError``."""
    probe = (
        "import sys\nfrom accelsim.lazy import lazy_module\n"
        "cs = lazy_module('colorsys')\n"
        "assert 'colorsys' not in sys.modules\n"
        "assert not hasattr(cs, '__deepcopy__') and 'colorsys' not in sys.modules\n"
        "assert cs.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)\n"
        "import colorsys\n"
        "assert cs.rgb_to_hsv is colorsys.rgb_to_hsv and 'rgb_to_hsv' in vars(cs)\n"
        "assert sys.modules['colorsys'] is colorsys\n"
        "try:\n    cs.no_such_name\nexcept AttributeError:\n    print('ok')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "ok"


def test_only_the_entry_point_freezes_what_it_loaded():
    """``main()`` as the console script calls it (reading ``sys.argv``) loads the command's
    modules with the collector paused and then freezes what is alive (``gc.freeze``), the
    collector enabled again; ``main(argv)`` (tests, notebooks) leaves the collector as it was."""
    probe = (
        "import gc, sys\nfrom accelsim.cli import main\n"
        "def run(argv=None):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "run(['catalog', 'models', '--json'])\n"
        "print(gc.get_freeze_count(), gc.isenabled(), file=sys.stderr)\n"
        "sys.argv = ['accelsim', 'catalog', 'models', '--json']\n"
        "run()\n"
        "print(gc.get_freeze_count() > 10_000, gc.isenabled(), file=sys.stderr)\n"
    )
    err = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stderr
    assert err.split() == ["0", "True", "True", "True"]


def _read_scenario(path: Path, cache: Path) -> tuple[str, set[str]]:
    """The seed and requests of scenario file ``path`` as a fresh interpreter reads it, and
    the top-level packages that interpreter imported."""
    probe = (
        "import json, sys\nfrom accelsim.catalog.loader import load_catalog\n"
        "from accelsim.run.scenario import read_scenario\n"
        f"sc = read_scenario({str(path)!r}, load_catalog())\n"
        "print(sc.seed, sc.traffic.requests)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    env = {**os.environ, "ACCELSIM_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env
    )
    read, modules = done.stdout.strip().splitlines()[-2:]
    return read, set(json.loads(modules))


def test_a_scenario_file_parsed_before_is_read_without_yaml(tmp_path):
    """``accelsim run FILE`` reads the file's data through the parsed-file cache (keyed by its
    bytes' hash): a second process imports no PyYAML and reads the same scenario; an edited
    file is parsed afresh (its new seed and request count), and so is the old text again."""
    tiny = Path(__file__).resolve().parent.parent / "workloads" / "scenarios" / "tiny.yaml"
    text = tiny.read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    cache = tmp_path / "cache"
    first, first_tops = _read_scenario(path, cache)
    again, tops = _read_scenario(path, cache)
    assert first == again == "0 200"
    assert "yaml" in first_tops and "yaml" not in tops
    path.write_text(text.replace("seed: 0", "seed: 7").replace("requests: 200", "requests: 30"))
    edited, edited_tops = _read_scenario(path, cache)
    assert edited == "7 30" and "yaml" in edited_tops
    path.write_text(text)
    assert _read_scenario(path, cache)[0] == "0 200"


def test_run_json_in_a_pipe_imports_no_rich_and_with_a_warm_cache_no_yaml(tmp_path):
    """``accelsim run FILE --json`` with stderr not a terminal draws no bar and prints no table:
    it never imports rich (``cli.progress.surely_off``, the consoles of ``cli.options`` made at
    first use), and once its files are cached no PyYAML either; its JSON is the same."""
    code = (
        "from accelsim.cli import main\ntry:\n"
        "    main(['run', 'tiny', '--json', '--seeds', '1'])\nexcept SystemExit: pass\n"
    )
    env = {**os.environ, "ACCELSIM_CACHE_DIR": str(tmp_path)}
    env.pop("ACCELSIM_PROGRESS", None)
    env.pop("FORCE_COLOR", None)
    env.pop("TTY_COMPATIBLE", None)
    probe = f"{code}import json, sys\nprint(json.dumps(sorted(sys.modules)))"
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        *out, modules = done.stdout.strip().splitlines()
        runs.append(("\n".join(out), {m.split(".")[0] for m in json.loads(modules)}))
    (first_out, first), (out, tops) = runs
    assert "rich" not in first | tops and "yaml" in first and "yaml" not in tops
    assert out == first_out and json.loads(out)["completed"] > 0
