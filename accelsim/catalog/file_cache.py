"""Parsed catalog files kept across processes (``ParsedFiles``), so that a command does not
re-parse the YAML of a catalog that has not changed (issue 18's start-up targets).

What is kept, and why it is exact:

- one entry per file *content*: the SHA-256 of the file's bytes maps to the parsed data as JSON
  text. A file that changes has new bytes, hence a new key, and is parsed again; a file that is
  added is parsed; a file that is removed is never asked for (the loader lists the folders,
  never the cache). Nothing is keyed by path or modification time;
- the cache file's name carries a hash of the parser (``accelsim/catalog/text.py``), of this
  module (the stored form) and of PyYAML's ``__init__.py`` (which states its version; read
  without importing PyYAML, so that a command whose files are all cached never imports it),
  so a different parser starts a new file;
- only data that JSON holds exactly is kept: strings, integers, finite floats (written as
  their shortest repr, which reads back bit for bit), booleans, None, lists and mappings — a
  mapping with a key that is not a string (``fraction_by_ranks: {1: ..., 2: ...}``) as its
  list of pairs under ``PAIRS``; a file whose data holds anything else (a YAML date) is parsed
  every time. Each hit is decoded afresh, so no two catalogs share (and mutate) one object;
- a file that cannot be read, or that parses to an error, is left to ``read_yaml`` (the same
  one-line error as without the cache) and never kept;
- a missing, unreadable or corrupt cache file is an empty cache; it is read once per process
  (``shared``: every catalog of the process uses that one copy); new entries are written once
  per catalog, whole or not at all (``accelsim.files.atomic_write``), into
  ``accelsim.units.cache_dir()``; a cache that cannot be written is skipped silently. At most
  ``MAX_ENTRIES`` contents are kept (beyond that, only those this process used).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import threading
from pathlib import Path
from typing import Any

from accelsim.catalog import text as _text
from accelsim.catalog.text import MAX_FILE_BYTES, decode_text, parse_yaml, read_yaml
from accelsim.errors import AccelsimError
from accelsim.files import atomic_write
from accelsim.units import cache_dir

__all__ = [
    "MAX_ENTRIES",
    "PAIRS",
    "ParsedFiles",
    "cache_file",
    "read_cached",
    "read_cached_keyed",
    "shared",
]

#: Every command reads the whole cache file, so it is kept small: some four versions of the
#: built-in catalog's 110 files, about 1 MB (4,096 entries of about 2 KB made it 9 MB, which
#: took 40-90 ms to read on the 2-core machine).
MAX_ENTRIES = 512


def cache_file() -> Path:
    """The cache of this parser: its name hashes ``text.py``'s source, this module's and
    PyYAML's ``__init__.py`` (its ``__version__`` line), found without importing PyYAML."""
    spec = importlib.util.find_spec("yaml")
    pyyaml = Path(spec.origin).read_bytes() if spec is not None and spec.origin else b""
    digest = hashlib.sha256(
        b"\0".join((Path(_text.__file__).read_bytes(), Path(__file__).read_bytes(), pyyaml))
    ).hexdigest()
    return cache_dir() / f"catalog-{digest[:16]}.json"


#: The key under which a mapping with non-string keys is kept as its list of pairs.
PAIRS = "\0pairs"
#: ``PAIRS`` as JSON writes it: an entry whose text lacks it holds no such mapping, so its
#: decoded JSON is already the data (``_decode`` would return it unchanged).
_PAIRS_JSON = json.dumps(PAIRS)


class _NotExact(Exception):
    """The data holds a value JSON cannot give back exactly."""


def _encode(data: Any) -> Any:
    """``data`` as JSON-ready values that ``_decode`` turns back into equal data, types
    included; ``_NotExact`` when it holds anything else."""
    if data is None or isinstance(data, str | bool | int):
        return data
    if isinstance(data, float):
        if not math.isfinite(data):
            raise _NotExact
        return data
    if isinstance(data, list):
        return [_encode(v) for v in data]
    if isinstance(data, dict):
        if all(isinstance(k, str) for k in data) and PAIRS not in data:
            return {k: _encode(v) for k, v in data.items()}
        return {PAIRS: [[_encode(k), _encode(v)] for k, v in data.items()]}
    raise _NotExact


def _decode(data: Any) -> Any:
    if isinstance(data, list):
        return [_decode(v) for v in data]
    if isinstance(data, dict):
        if len(data) == 1 and PAIRS in data:
            return {_decode(k): _decode(v) for k, v in data[PAIRS]}
        return {k: _decode(v) for k, v in data.items()}
    return data


class ParsedFiles:
    """The parsed data of catalog files by content (see the module docstring). Safe to share
    between threads (a lock orders new entries and the write of the file)."""

    def __init__(self) -> None:
        self.path = cache_file()
        self._lock = threading.Lock()
        self.known: dict[str, str] = {}
        self.used: set[str] = set()
        self.new = 0
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(stored, dict):
            self.known = {
                k: v for k, v in stored.items() if isinstance(k, str) and isinstance(v, str)
            }

    def read(self, path: Path) -> Any:
        """``read_yaml(path)``, from the cache when these bytes were parsed before."""
        return self.read_keyed(path)[0]

    def read_keyed(self, path: Path) -> tuple[Any, str | None]:
        """``read(path)`` and the SHA-256 of the bytes it parsed (None when the file was left
        to ``read_yaml``: not a regular file, over ``MAX_FILE_BYTES`` or unreadable)."""
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                return read_yaml(path), None
            blob = path.read_bytes()
        except OSError:
            return read_yaml(path), None
        key = hashlib.sha256(blob).hexdigest()
        hit = self.known.get(key)
        if hit is not None:
            try:
                data = json.loads(hit)
                if _PAIRS_JSON in hit:
                    data = _decode(data)
            except (ValueError, TypeError, KeyError):
                pass  # a damaged entry: parse the file again
            else:
                self.used.add(key)
                return data, key
        data = parse_yaml(decode_text(blob, str(path)), str(path))
        try:
            text = json.dumps(_encode(data), allow_nan=False)
        except _NotExact:
            return data, key
        with self._lock:
            self.known[key] = text
            self.used.add(key)
            self.new += 1
        return data, key

    def save(self) -> None:
        """Write the cache if this catalog parsed anything new."""
        with self._lock:
            if not self.new:
                return
            keep = self.known
            if len(keep) > MAX_ENTRIES:
                keep = {k: v for k, v in keep.items() if k in self.used}
            try:
                atomic_write(self.path, json.dumps(keep, sort_keys=True))
            except AccelsimError:
                return
            self.new = 0


_SHARED: dict[Path, ParsedFiles] = {}
_SHARED_LOCK = threading.Lock()  # one ``ParsedFiles`` per cache file, even when threads race


def shared() -> ParsedFiles:
    """This process's ``ParsedFiles`` of the cache file in effect (``cache_file``): the file is
    read once per process, not once per catalog. Its entries are keyed by content, so one read
    earlier in the process is never wrong, at worst missing what another process added since
    (those files are parsed again)."""
    path = cache_file()
    with _SHARED_LOCK:
        files = _SHARED.get(path)
        if files is None:
            files = _SHARED[path] = ParsedFiles()
    return files


def read_cached(path: Path) -> Any:
    """``read_yaml(path)`` through this process's cache (``shared``), written back when new:
    for a file a command reads beside the catalog's entries (the generated
    ``workloads/validation/intervals.yaml``, a scenario file, a traffic profile)."""
    return read_cached_keyed(path)[0]


def read_cached_keyed(path: Path) -> tuple[Any, str | None]:
    """``read_cached(path)`` and the content hash of what it parsed (``ParsedFiles.read_keyed``)."""
    files = shared()
    found = files.read_keyed(path)
    files.save()
    return found
