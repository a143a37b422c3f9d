"""The output boundary (``accelsim.files``) under the failures CI cannot stage for real: a full
disk and a permission refused while writing, and a read-only target found before any work.

CI runs as root, so a read-only folder is writable there and a real full disk cannot be made;
these tests raise the operating system's own errors (``ENOSPC``, ``EACCES``) from the calls the
boundary makes, and check what the user sees: one line naming the target and the reason, exit 2,
no temporary file left, no partial target.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest
from clirun import run_cli

import accelsim.files as files
from accelsim.errors import AccelsimError


def _no_temp_left(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def _raise(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied")],
)
def test_atomic_write_failure_leaves_target_untouched(tmp_path, monkeypatch, code, reason):
    target = tmp_path / "summary.json"
    target.write_text("old\n")
    monkeypatch.setattr(files.os, "replace", _raise(code))
    with pytest.raises(AccelsimError) as err:
        files.atomic_write(target, "new\n")
    assert str(err.value) == f"{target}: cannot write ({reason})"
    assert target.read_text() == "old\n"
    _no_temp_left(tmp_path)


def test_cannot_create_temp_file(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "mkstemp", _raise(errno.EACCES))
    with pytest.raises(AccelsimError, match="permission denied"):
        files.atomic_write(tmp_path / "r.md", "x")
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENOSPC, "the disk is full"), (errno.EDQUOT, "the disk quota is exhausted")],
)
def test_run_out_on_a_full_disk(tmp_path, monkeypatch, capsys, code, reason):
    out = tmp_path / "out"
    monkeypatch.setattr(files.os, "replace", _raise(code))
    status, _stdout, stderr = run_cli(capsys, "run", "tiny", "--out", str(out))
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert status == 2
    assert len(lines) == 1 and "Traceback" not in stderr
    assert lines[0].startswith("error: ") and reason in lines[0] and "records.csv" in lines[0]
    _no_temp_left(tmp_path)
    assert not (out / "records.csv").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "tiny", "--out", "{ro}/out"],
        ["report", "tiny", "-o", "{ro}/r.md"],
        ["whatif", "tiny", "--vary", "traffic.rate=1,2", "--plot", "{ro}/w.svg"],
    ],
    ids=["run", "report", "whatif"],
)
def test_read_only_target_refused_before_work(tmp_path, monkeypatch, capsys, argv):
    """A folder the user cannot write is refused at once (``os.access`` says no, as it does for
    a non-root user on a read-only folder): one line, exit 2, nothing simulated or written."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        files.os, "access", lambda p, mode: False if Path(p) == ro else real_access(p, mode)
    )
    status, stdout, stderr = run_cli(capsys, *[a.format(ro=ro) for a in argv])
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert status == 2, stderr
    assert len(lines) == 1 and "not writable" in lines[0] and str(ro) in lines[0]
    assert stdout == ""
    assert list(ro.iterdir()) == []
