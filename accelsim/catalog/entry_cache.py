"""Validated catalog entries kept across processes (``ValidatedEntries``), so that a command
whose entries were validated before neither validates them again nor builds their schemas'
validators (issue 18's start-up targets: ``accelsim step`` reads a card, a server and a model
and the prediction intervals; building and running their validators took 0.02-0.05 s of
it on the shared 2-core machine, ``benchmarks/bench_startup.py``).

What is kept, and why it is exact:

- one file per validated object, named by the SHA-256 of everything its value depends on: the
  object's kind and name, the path of its file (the entry's ``file`` field) and the content
  hash of every file it is built from (its own and each ancestor of its ``extends`` chain:
  ``accelsim.catalog.file_cache.ParsedFiles.read_keyed``), in a folder named by the code that
  builds it (``code_digest``: every module of ``accelsim/catalog/``, the vocabulary modules
  a validation runs, the caller's own module, such as ``validate/intervals.py``, the versions
  of Python, pydantic, pydantic-core and pint, and PyYAML's ``__init__.py``). A changed file or a
  changed parser, schema or unit table is a new name, hence a miss: the object is validated
  as without the cache. Nothing is keyed by modification time;
- only what a file alone determines is kept: an entry that a what-if override touches, or that
  is built from a file whose content hash is unknown, is never looked up nor kept (the
  catalog's ``_build`` decides); an object that fails validation is never kept (its error is
  the usual one line);
- stored with ``pickle`` (a frozen pydantic model comes back without its validator being
  built; JSON would need it), in the user cache folder (``accelsim.units.cache_dir``), which
  accelsim trusts as it trusts its own bytecode; a file that is missing, unreadable, corrupt
  or holds another type is a miss; files are written whole or not at all
  (``accelsim.files.atomic_write``); a cache that cannot be written is skipped silently. A
  folder holds at most ``MAX_FILES`` (about 5 KB each): when a new file would pass that, the
  oldest quarter (by modification time) is removed first.

The catalog's schemas are built when first used (``accelsim.catalog.schema.Frozen``'s
``defer_build``), so a process whose entries all come from here never builds them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pydantic
import pydantic_core

from accelsim.errors import AccelsimError
from accelsim.files import atomic_write
from accelsim.units import cache_dir, pint_version

__all__ = ["MAX_FILES", "ValidatedEntries", "code_digest", "validated"]

#: Most files one code version's folder keeps (tests and user catalogs in temporary folders
#: add new paths, hence new files, on every run).
MAX_FILES = 2048

T = TypeVar("T")

_CATALOG = Path(__file__).resolve().parent
#: The vocabulary modules a validation runs (unit parsing, dtypes, messages, files).
_VOCABULARY = ("dtypes", "errors", "files", "units")
_DIGESTS: dict[tuple[str, ...], str] = {}


def code_digest(modules: Iterable[str] = ()) -> str:
    """A hash of the code that turns catalog files into validated objects (module docstring),
    with the source files ``modules`` (paths) of the caller: read once per process."""
    extra = tuple(sorted(modules))
    hit = _DIGESTS.get(extra)
    if hit is not None:
        return hit
    sources = sorted(_CATALOG.glob("*.py")) + [_CATALOG.parent / f"{m}.py" for m in _VOCABULARY]
    h = hashlib.sha256()
    for path in [*sources, *(Path(m) for m in extra)]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    spec = importlib.util.find_spec("yaml")
    pyyaml = Path(spec.origin).read_bytes() if spec is not None and spec.origin else b""
    versions = (sys.version, pydantic.VERSION, pydantic_core.__version__, pint_version())
    h.update("\0".join(versions).encode() + b"\0" + pyyaml)
    _DIGESTS[extra] = digest = h.hexdigest()
    return digest


class ValidatedEntries:
    """The kept objects of one version of the code (``code_digest`` of ``modules``)."""

    def __init__(self, modules: Iterable[str] = ()) -> None:
        self.folder = cache_dir() / f"entries-{code_digest(modules)[:16]}"

    def _path(self, parts: tuple[str, ...]) -> Path:
        key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        return self.folder / f"{key[:32]}.pickle"

    def get(self, parts: tuple[str, ...], kind: type[T]) -> T | None:
        """The object kept under ``parts`` if it is a ``kind``, else None."""
        try:
            blob = self._path(parts).read_bytes()
        except OSError:
            return None
        try:
            obj = pickle.loads(blob)
        except Exception:  # a damaged file is a miss, whatever unpickling raised
            return None
        return obj if type(obj) is kind else None

    def put(self, parts: tuple[str, ...], obj: object) -> None:
        """Keep ``obj`` under ``parts`` (skipped when the folder cannot be written)."""
        try:
            blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError):
            return
        self._make_room()
        try:
            atomic_write(self._path(parts), blob)
        except AccelsimError:
            return

    def _make_room(self) -> None:
        """Below ``MAX_FILES`` files: the oldest quarter goes when the folder is full."""
        try:
            found = [e for e in os.scandir(self.folder) if e.name.endswith(".pickle")]
            if len(found) < MAX_FILES:
                return
            found.sort(key=lambda e: (e.stat().st_mtime_ns, e.name))
        except OSError:
            return
        for e in found[: len(found) - MAX_FILES * 3 // 4]:
            with contextlib.suppress(OSError):
                os.unlink(e.path)


def validated(
    parts: tuple[str, ...], kind: type[T], build: Callable[[], T], modules: Iterable[str] = ()
) -> T:
    """The object ``build()`` returns for these ``parts`` (kind, name, path, content hashes:
    all it depends on beside the code), from the cache when it was built before."""
    entries = ValidatedEntries(modules)
    hit = entries.get(parts, kind)
    if hit is not None:
        return hit
    obj = build()
    entries.put(parts, obj)
    return obj
