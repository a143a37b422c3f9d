"""The output boundary: every file accelsim writes is whole or absent.

``check_output_dir`` and ``check_output_file`` check a target before any work is done (a folder
that is a file, a parent that cannot be created, a read-only place, a wrong suffix), so a long
simulation never ends in "cannot write". ``atomic_write`` writes through a temporary file in the
target's own folder and renames it into place (``os.replace``, atomic on POSIX within one file
system); on any failure — an error, a full disk, Ctrl-C, SIGTERM — the temporary file is
removed and the target is left as it was. Operating-system errors become one ``AccelsimError``
line naming the target (disk full, permission denied), which the CLI prints with exit 2.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from accelsim.errors import AccelsimError

__all__ = [
    "atomic_path",
    "atomic_write",
    "check_output_dir",
    "check_output_file",
    "os_error",
]


def os_error(target: Path | str, exc: OSError, what: str = "cannot write") -> AccelsimError:
    """One line for an operating-system error on ``target``."""
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "read-only file system",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EISDIR: "it is a folder",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return AccelsimError(f"{target}: {what} ({reason})")


def _creatable(path: Path, label: str) -> None:
    """``path`` (absent) can be created: its nearest existing ancestor is a writable folder."""
    parent = path.parent
    while not parent.exists():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise AccelsimError(f"{label}: cannot create it ({parent} is a file, not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise AccelsimError(f"{label}: cannot create it ({parent} is not writable)")
    if parent.resolve().is_relative_to("/proc") or parent.resolve().is_relative_to("/sys"):
        raise AccelsimError(f"{label}: cannot create it ({parent} is a kernel file system)")


def check_output_dir(path: Path, flag: str) -> None:
    """``path`` is a folder accelsim can write into, or can become one (``flag``: the option
    that named it, for the message)."""
    label = f"{flag} {path}"
    if path.exists():
        if not path.is_dir():
            raise AccelsimError(f"{label}: is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise AccelsimError(f"{label}: the folder is not writable")
        return
    _creatable(path, label)


def check_output_file(path: Path, flag: str, suffixes: tuple[str, ...] = ()) -> None:
    """``path`` is a file accelsim can write (create or replace), with one of ``suffixes``
    when given."""
    label = f"{flag} {path}"
    if suffixes and path.suffix.lower() not in suffixes:
        raise AccelsimError(f"{label}: expected a file ending in {', '.join(suffixes)}")
    if path.is_dir():
        raise AccelsimError(f"{label}: is a folder, not a file")
    if path.exists():
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise AccelsimError(f"{label}: its folder is not writable")
        return
    _creatable(path, label)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path in ``path``'s folder to write; renamed to ``path`` when the block ends
    normally, removed when it raises (anything, ``KeyboardInterrupt`` included)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise os_error(path, exc) from None
    tmp = Path(tmp_name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        os.close(fd)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise os_error(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, whole or not at all."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
