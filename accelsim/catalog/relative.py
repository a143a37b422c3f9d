"""Relative what-if values: ``--set KEY=-30%`` and ``--set KEY=x0.7`` scale the catalog's value.

The loader (``accelsim.catalog.loader``) passes every override value through ``relative_value``
with the value the catalog file holds at that key; a value that is not relative passes through
unchanged and is parsed like any other.
"""

from __future__ import annotations

import re
from typing import Any

from accelsim.errors import AccelsimError

__all__ = ["relative_value"]

_RELATIVE = re.compile(r"^\s*(?:([-+][0-9.]+)\s*%|[x*]\s*([0-9.]+))\s*$")
_NUMBER = re.compile(r"[-+]?(?:[0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def relative_value(old: Any, value: Any, path: str) -> Any:
    """A what-if value: ``value`` itself, or ``old`` scaled when ``value`` is relative —
    ``-30%`` / ``+10%`` (old x (1 + p/100)) or ``x0.7`` / ``*0.7`` (old x 0.7). A text
    ``old`` (``"1.6 TB/s"``, ``"USD 199,000"``) keeps its unit and scales its number."""
    m = _RELATIVE.match(value) if isinstance(value, str) else None
    if m is None:
        return value
    factor = 1.0 + float(m.group(1)) / 100.0 if m.group(1) else float(m.group(2))
    if isinstance(old, int | float) and not isinstance(old, bool):
        return old * factor
    number = _NUMBER.search(old) if isinstance(old, str) else None
    if number is None:
        raise AccelsimError(
            f"--set {path}={value}: a relative what-if needs a number in the catalog "
            f"(found {old!r})"
        )
    scaled = float(number.group().replace(",", "")) * factor
    return f"{old[: number.start()]}{scaled:.12g}{old[number.end() :]}"
