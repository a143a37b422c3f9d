"""The HTML report in a real browser: headless Chromium renders it to a PNG and dumps the DOM.

Checks that the page rendered (a PNG of the window size that is not one flat colour, with
enough dark "ink" pixels for text and charts) and that every chart of the report is an
``<svg>`` in the rendered DOM. Skips when Chromium is absent, unless
``ACCELSIM_REQUIRE_BROWSER=1`` (set in CI, which installs Debian's chromium): then it fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from clirun import exit_code

WIDTH, HEIGHT = 1280, 2000
TIMEOUT_S = 60


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> str:
    path = _chromium()
    if path is None:
        if os.environ.get("ACCELSIM_REQUIRE_BROWSER") == "1":
            pytest.fail("ACCELSIM_REQUIRE_BROWSER=1 but no chromium is installed")
        pytest.skip("chromium not installed (set ACCELSIM_REQUIRE_BROWSER=1 to require it)")
    return path


def _run(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)


def test_report_renders_in_chromium(browser, tmp_path):
    html = tmp_path / "report.html"
    assert exit_code(["report", "tiny", "--monte-carlo", "400", "-o", str(html)]) == 0
    source = html.read_text(encoding="utf-8")
    charts = re.findall(r'<figure class="chart" id="(chart-[\w-]+)">', source)
    assert len(charts) >= 5
    url = html.resolve().as_uri()

    png = tmp_path / "report.png"
    shot = _run(
        browser, tmp_path / "p1", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url
    )
    assert png.exists(), f"no screenshot: {shot.stderr[-2000:]}"
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[:2] == (HEIGHT, WIDTH)
    rgb = img[..., :3].astype(float)
    assert float(rgb.std()) > 0.05, "the page rendered as one flat colour"
    dark = float((rgb.mean(axis=2) < 0.5).mean())
    assert 0.005 < dark < 0.6, f"share of dark pixels {dark:.3f}: no text rendered?"
    colored = float((np.ptp(rgb, axis=2) > 0.25).mean())
    assert colored > 0.001, "no coloured pixels: charts or styles did not render"

    dom = _run(browser, tmp_path / "p2", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for chart in charts:
        m = re.search(rf'<figure class="chart" id="{chart}">\s*<svg\b', dom.stdout)
        assert m, f"{chart}: no <svg> in the rendered DOM"
    assert dom.stdout.count("<svg") >= len(charts)
