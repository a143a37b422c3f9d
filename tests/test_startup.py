"""Start-up stays light (issue 18): building the command tree (what ``accelsim --help`` does)
imports none of the heavy optional packages — matplotlib is imported when a chart is drawn,
scipy when its one function is called, pint when a first unit text is parsed. Checked in a
fresh interpreter, by module names (no timing)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "scipy", "pint", "pandas", "ray", "weasyprint")


def _imported(code: str) -> set[str]:
    tops = "sorted({m.split('.')[0] for m in sys.modules})"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({tops}))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_command_tree_imports_no_heavy_package():
    loaded = _imported("import accelsim.cli")
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_heavy_packages_load_when_used():
    loaded = _imported(
        "from accelsim.units import parse_quantity\n"
        "from accelsim.model.routing import expected_max_normal\n"
        "assert parse_quantity('1.6 TB/s', 'bandwidth') == 1.6e12\n"
        # Blom's approximation for n = 2: the normal quantile of 1.625 / 2.25, 0.58946
        "assert abs(expected_max_normal(2) - 0.58946) < 1e-5\n"
    )
    assert {"pint", "scipy"} <= loaded and "matplotlib" not in loaded
