"""``accelsim report``: golden Markdown, determinism, self-contained HTML, what-if marking,
the committed seed-claims doc, and bad input (one line, exit 2, no partial file)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from clirun import exit_code, run_cli

from accelsim.errors import AccelsimError
from accelsim.report import Report, Section, Table, render_html, render_markdown, write_report

GOLDEN = Path(__file__).resolve().parent / "golden" / "report_tiny.md"
SEED_DOC = Path(__file__).resolve().parent.parent / "docs" / "seed-claims.md"
#: The tiny report runs with fewer Monte Carlo draws to stay fast; the golden records it.
TINY = ["report", "tiny", "--monte-carlo", "400"]


@pytest.fixture(scope="module")
def tiny_md(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("md") / "tiny.md"
    assert exit_code([*TINY, "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_html(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("html") / "tiny.html"
    assert exit_code([*TINY, "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def test_markdown_matches_golden(tiny_md):
    """Regenerate with ACCELSIM_REGEN_GOLDEN=1 when a deliberate change moves it."""
    if os.environ.get("ACCELSIM_REGEN_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(tiny_md, encoding="utf-8")
    assert GOLDEN.exists(), f"{GOLDEN} missing: run with ACCELSIM_REGEN_GOLDEN=1 to create it"
    assert tiny_md == GOLDEN.read_text(encoding="utf-8"), (
        "report changed; regenerate with ACCELSIM_REGEN_GOLDEN=1 if intended"
    )


def test_markdown_has_every_section_and_no_images(tiny_md):
    for title in (
        "## Executive summary",
        "## Throughput against latency",
        "## Cost per million tokens",
        "## Total cost of ownership",
        "## Sensitivity (tornado)",
        "## Memory fit",
        "## Validation error of these cards",
        "## Assumptions",
    ):
        assert title in tiny_md
    assert "<svg" not in tiny_md and "](" not in tiny_md  # no images, no links to files
    assert "what-if overrides | none (catalog values)" in tiny_md
    assert re.search(r"\| device a100-sxm4-80gb \| hbm_capacity \| 80 GB \| V \|", tiny_md)


def test_html_is_self_contained_and_deterministic(tiny_html, tmp_path):
    for forbidden in ("<script", "<link", "src=", "@import"):
        assert forbidden not in tiny_html
    assert not re.search(r"url\((?!#)", tiny_html)  # only references inside the page
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', tiny_html))
    ids = re.findall(r'<figure class="chart" id="chart-([\w-]+)">\s*<svg', tiny_html)
    assert set(ids) >= {"sweep", "cost", "tco", "tornado-0", "memory"}
    again = tmp_path / "again.html"
    assert exit_code([*TINY, "-o", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == tiny_html


def test_what_if_overrides_are_marked(tmp_path):
    out = tmp_path / "whatif.md"
    code = exit_code(
        [*TINY, "-o", str(out), "--set", "device.a100-sxm4-80gb.hbm_bandwidth=2.5TB/s"]
    )
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "**WHAT-IF:**" in text and "| a100-sxm4-80gb (WHAT-IF) |" in text
    assert "device.a100-sxm4-80gb.hbm_bandwidth=2.5TB/s" in text
    assert re.search(r"\| hbm_bandwidth \| 2\.5TB/s \(WHAT-IF; catalog: 2039 GB/s\) \| O \|", text)


def test_committed_seed_claims_doc_is_current(tmp_path):
    """docs/seed-claims.md is what `accelsim report seed-claims -o docs/seed-claims.md` writes
    now. Regenerate it with that command."""
    out = tmp_path / "seed-claims.md"
    assert exit_code(["report", "seed-claims", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text == SEED_DOC.read_text(encoding="utf-8")
    assert "## Claims checked" in text
    assert "does not fit on 8 x ascend-910b2 at any supported precision" in text


# ---- bad input ------------------------------------------------------------------------------
def _one_line_error(capsys, *args: str) -> str:
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_device(capsys, tmp_path):
    out = tmp_path / "r.md"
    line = _one_line_error(capsys, "report", "tiny", "-d", "a100-sxm9", "-o", str(out))
    assert "unknown device 'a100-sxm9'" in line
    assert not out.exists()


def test_scenario_file_with_errors(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nmodel: deepseek-v2-lite\ndevice: a100-sxm4-80gb\ncards: 0\n")
    line = _one_line_error(capsys, "report", str(bad), "-o", str(tmp_path / "r.md"))
    assert "bad.yaml" in line
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        Path(__file__).resolve().parent.parent.joinpath("workloads/scenarios/tiny.yaml").read_text()
        + "claims:\n  - {id: x, kind: throughput, value: 10 tok/s, device: a100-sxm4-80gb}\n"
    )
    line = _one_line_error(capsys, "report", str(claims), "-o", str(tmp_path / "r.md"))
    assert "claims" in line and "needs cards" in line


def test_unwritable_output(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    line = _one_line_error(capsys, "report", "tiny", "-o", str(tmp_path / "file" / "r.html"))
    assert "is a file, not a folder" in line
    (tmp_path / "d.html").mkdir()
    line = _one_line_error(capsys, "report", "tiny", "-o", str(tmp_path / "d.html"))
    assert "is a folder, not a file" in line
    line = _one_line_error(capsys, "report", "tiny", "-o", str(tmp_path / "r.txt"))
    assert "unknown format '.txt'" in line


def test_pdf_without_weasyprint(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import fails as if not installed
    out = tmp_path / "r.pdf"
    line = _one_line_error(capsys, "report", "tiny", "-o", str(out))
    assert "pip install accelsim[pdf]" in line
    assert not out.exists()


def test_pdf_with_weasyprint(tmp_path):
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:  # the optional [pdf] extra, or its system libraries
        pytest.skip(f"WeasyPrint unavailable: {exc}")
    out = write_report(_small_report(), tmp_path / "r.pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]  # no temp file left beside it


def _small_report() -> Report:
    return Report(
        title="t",
        facts=(("k", "v"),),
        whatif=(),
        sections=(Section("s", "S", ("a | b",), tables=(Table(("x", "y"), (("1", "2|3"),)),)),),
        generator="accelsim test",
    )


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    """A write that fails at the rename leaves neither the final file nor the temp file."""
    import accelsim.files as files

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", boom)  # the one output boundary renames
    target = tmp_path / "r.html"
    with pytest.raises(AccelsimError, match="cannot write \\(the disk is full\\)"):
        write_report(_small_report(), target)
    assert list(tmp_path.iterdir()) == []


def test_existing_report_is_replaced_whole(tmp_path):
    target = tmp_path / "r.md"
    target.write_text("old")
    write_report(_small_report(), target)
    text = target.read_text(encoding="utf-8")
    assert text == render_markdown(_small_report())
    assert "| 1 | 2\\|3 |" in text  # cells with | are escaped
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]


def test_html_escapes_text():
    r = Report("<b>", (("k", "<i>"),), (), (Section("s", "S", ("**bold** <x>",)),), "g")
    html = render_html(r)
    assert "&lt;b&gt;" in html and "&lt;i&gt;" in html
    assert "<strong>bold</strong> &lt;x&gt;" in html


def test_report_lists_the_framework_profile_it_used(tmp_path):
    """A scenario naming SGLang on an Ascend card is priced with the calibrated profile, and
    the report's assumptions table lists that number with its C mark and source."""
    scenarios = Path(__file__).resolve().parents[1] / "workloads" / "scenarios"
    tiny = (scenarios / "tiny.yaml").read_text()
    sc = tmp_path / "tiny-sglang.yaml"
    sc.write_text(
        tiny.replace("name: tiny", "name: tiny-sglang").replace(
            "device: a100-sxm4-80gb", "device: ascend-910b2\nframework: {name: sglang}"
        )
    )
    out = tmp_path / "r.md"
    assert exit_code(["report", str(sc), "--monte-carlo", "200", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    row = r"\| framework profile sglang-ascend \| decode_token_layer_cost \| [\d.]+ us \| C \|"
    assert re.search(row, text)
