"""The bad-input corpus (``tests/bad_inputs/*.yaml``, one case per file): every case ends in
exit 2 with exactly one line on stderr that names the file, field or argument as the user wrote
it, no traceback, within 10 s, and leaves no temp file behind.

A case file holds ``argv`` (the command line, run in a fresh folder), ``files`` (text files to
write there first, path -> content), ``hexfiles`` (binary files, path -> hex), ``long``
(``count``: the length of the over-long text that replaces ``@LONG@`` in files and arguments),
``expect`` (fragments the error line must contain) and optionally ``why``; ``@HERE@`` in files
stands for the case's folder (traces are named by absolute path). Cases run
in-process through ``accelsim.cli.main`` (the console-script entry point).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from clirun import exit_code

CASES = sorted((Path(__file__).parent / "bad_inputs").glob("*.yaml"))


def _prepare(case: dict, folder: Path) -> list[str]:
    filler = "7" * int((case.get("long") or {}).get("count", 0))
    for rel, text in (case.get("files") or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        text = text.replace("@LONG@", filler).replace("@HERE@", str(folder))
        target.write_text(text, encoding="utf-8")
    for rel, hexed in (case.get("hexfiles") or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes.fromhex(hexed))
    return [a.replace("@LONG@", filler) for a in case["argv"]]


def test_corpus_is_large_enough():
    assert len(CASES) >= 150


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_input(path, tmp_path, monkeypatch, capsys):
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    work = tmp_path / "work"
    work.mkdir()
    argv = _prepare(case, work)
    before = {p for p in work.rglob("*")}
    monkeypatch.chdir(work)
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("ACCELSIM_CATALOG", raising=False)
    start = time.perf_counter()
    code = exit_code(argv)
    elapsed = time.perf_counter() - start
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert "Traceback" not in out.err + out.out
    assert code == 2, f"exit {code}; stderr: {out.err!r}"
    assert len(lines) == 1, f"stderr is not one line: {out.err!r}"
    line = lines[0]
    assert line.startswith("error: "), line
    for fragment in case["expect"]:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    assert elapsed < 10.0, f"took {elapsed:.1f} s"
    left = {p for p in work.rglob("*")} - before
    assert not [p for p in left if p.name.endswith(".tmp")], left
