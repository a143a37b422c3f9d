"""Reading text the user gave: strict UTF-8, safe YAML, and pydantic errors as the user wrote them.

Every catalog, scenario and sweep file goes through ``read_yaml`` (``read_text`` +
``parse_yaml``): a file that is not UTF-8 text (UTF-16, Latin-1, binary, NUL bytes), too large,
malformed, with a duplicate key, a YAML anchor/alias, an over-long value or a huge integer is one
``CatalogError`` naming the file and the line or field. ``format_validation_error`` turns a
pydantic ``ValidationError`` into one line naming each field as the user wrote it (pydantic's
validator wrappers, union branches and discriminator tags dropped).

PyYAML is imported by ``parse_yaml`` when a first text is parsed, not with this module: a
command whose files all come from the parsed-file cache (``accelsim.catalog.file_cache``) never
imports it (issue 18's start-up targets).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from accelsim.errors import CatalogError

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_FILE_BYTES",
    "decode_text",
    "format_validation_error",
    "parse_yaml",
    "read_text",
    "read_yaml",
]

#: The largest text file a reader opens (catalog, scenario, sweep files; traces stream).
MAX_FILE_BYTES = 64 * 2**20
#: The longest text one YAML value may hold (a description is a paragraph, not a book).
MAX_FIELD_CHARS = 100_000
#: The most digits a YAML integer may have (Python's own int-from-text limit is 4,300).
_MAX_INT_DIGITS = 30


def read_text(path: Path, what: str | None = None) -> str:
    """The text of ``path``, decoded strictly as UTF-8 (a BOM-less UTF-8 file; a UTF-8 BOM is
    dropped). Anything else — UTF-16, Latin-1, a binary file, NUL bytes, a file over
    ``MAX_FILE_BYTES`` — is a ``CatalogError`` naming the file (``what``: how to name it)."""
    name = what or str(path)
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise CatalogError(f"{name}: is a folder, not a file")
        if size > MAX_FILE_BYTES:
            raise CatalogError(
                f"{name}: {size:,} bytes is over the {MAX_FILE_BYTES // 2**20} MiB a text "
                "file may have"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"{name}: cannot read ({exc.strerror})") from None
    return decode_text(data, name)


def decode_text(data: bytes, name: str) -> str:
    """``data`` decoded strictly as UTF-8; a bad encoding is one ``CatalogError`` naming
    ``name`` and what the bytes look like."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CatalogError(f"{name}: is UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise CatalogError(f"{name}: holds NUL bytes (a binary file?); expected UTF-8 text")
    return text.removeprefix("\ufeff")


def _yaml_problem(node: Any, path: str, seen: set[int], yaml: Any) -> str | None:
    """The first structural problem of a composed YAML node tree (``yaml``: the PyYAML module):
    an alias (anchors are refused: a few lines of them expand to billions of values), a
    duplicate key, an over-long text or an integer with too many digits; ``None`` when there is
    none."""
    if id(node) in seen:
        return f"field {path or '(top level)'}: YAML anchors and aliases (&, *) are not supported"
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        value = node.value
        if len(value) > MAX_FIELD_CHARS:
            return (
                f"field {path or '(top level)'}: {len(value):,} characters is over the "
                f"{MAX_FIELD_CHARS:,} one value may have"
            )
        if node.tag.endswith(":int") and sum(c.isdigit() for c in value) > _MAX_INT_DIGITS:
            return f"field {path or '(top level)'}: integer of {len(value):,} digits is too large"
        return None
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _yaml_problem(item, f"{path}.{i}" if path else str(i), seen, yaml)
            if found:
                return found
        return None
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            where = f"{path}.{key}" if path else str(key)
            if key == "<<":
                return f"field {where}: YAML merge keys (<<) are not supported"
            if key in keys:
                return f"field {where}: duplicate key (written twice; say it once)"
            keys.add(key)
            found = _yaml_problem(key_node, where, seen, yaml) or _yaml_problem(
                value_node, where, seen, yaml
            )
            if found:
                return found
    return None


def parse_yaml(text: str, name: str) -> Any:
    """Parse YAML ``text`` (from ``name``) safely: syntax errors, duplicate keys, aliases,
    over-long values and huge integers are one ``CatalogError`` naming ``name``, the line or
    the field. Uses libyaml's loader when PyYAML was built with it (about 7x faster on the
    catalog), else Python's."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = _yaml_problem(node, "", set(), yaml)
        if problem:
            raise CatalogError(f"{name}: {problem}")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CatalogError(f"{name}:{where}: malformed YAML ({problem})") from None
    except (ValueError, OverflowError, RecursionError) as exc:
        raise CatalogError(f"{name}: malformed YAML ({str(exc).splitlines()[0]})") from None
    finally:
        loader.dispose()


def read_yaml(path: Path) -> Any:
    """Read and parse one YAML file (``read_text``, ``parse_yaml``); every problem is a
    ``CatalogError`` naming the file and the line or field."""
    return parse_yaml(read_text(path), str(path))


#: Parts of a pydantic error location that are pydantic's, not the user's: validator
#: wrappers (``function-after[_check(), TrafficSpec]``), union branches (``str``,
#: ``dict[str,any]``, ``ParallelPlan``).
_INTERNAL_LOC = re.compile(
    r"^(?:function-\w+|tagged-union|is-instance|lax-or-strict|json-or-python|chain|nullable)"
    r"\[.*\]$|^(?:str|int|float|bool|bytes|dict|list|tuple|set|frozenset|none|any)(?:\[.*\])?$"
    r"|^[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*$"
)
#: Messages of the union branch a value did not take (shown only when nothing else is wrong).
_BRANCH_MSGS = (
    "Input should be a valid string",
    "Input should be a valid dictionary",
    "Input should be an instance of",
    "Input should be None",
    "Input should be a valid list",
    "Input should be a valid tuple",
)


def _key(part: Any) -> str:
    """One key of a field path, quoted when it holds characters a line cannot show."""
    text = str(part)
    return text if text.isprintable() else repr(text)


def _user_loc(loc: tuple[Any, ...], data: Any) -> str:
    """A pydantic error location as the user wrote it: the keys found along ``data`` (the raw
    mapping that was validated), pydantic's own parts (validator wrappers, union branches,
    discriminator tags) dropped."""
    parts: list[str] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        if in_list or (isinstance(node, Mapping) and part in node):
            parts.append(_key(part))
            node = node[part]
        elif isinstance(part, int):
            parts.append(_key(part))
            node = None
        elif _INTERNAL_LOC.match(str(part)):
            continue
        elif data is not None and isinstance(node, Mapping) and not last:
            continue  # a discriminator tag (``lengths.lognormal``) or a wrapper
        else:
            parts.append(_key(part))
            node = None
    return ".".join(parts)


def format_validation_error(where: str, exc: ValidationError, data: Any = None) -> str:
    """One line for every problem: ``file: field a.b: what was expected``; ``data`` (the raw
    mapping that was validated) lets the field be named as the user wrote it."""
    seen: dict[tuple[str, str], None] = {}
    for err in exc.errors():
        loc = _user_loc(tuple(err["loc"]), data) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "missing":
            msg = "missing required field"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if loc == "(top level)":
                m = re.match(r"^([\w.\-]+): (.*)$", msg)
                if m and " " not in m.group(1):
                    loc, msg = m.group(1), m.group(2)
            if (
                "input" in err
                and kind not in ("model_type",)
                and not isinstance(err["input"], dict | list)
                and "(got " not in msg
            ):
                msg += f" (got {_shown(err['input'])})"
        seen.setdefault((loc, " ".join(msg.split())), None)
    items = list(seen)
    real = [(loc, msg) for loc, msg in items if not msg.startswith(_BRANCH_MSGS)]
    parts = [f"field {loc}: {msg}" for loc, msg in (real or items)]
    return f"{where}: " + "; ".join(parts)


def _shown(value: Any) -> str:
    """A rejected input as an error quotes it (long texts cut)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text):,} characters)"
