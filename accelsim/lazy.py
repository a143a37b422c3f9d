"""A third-party module imported when its first attribute is read (vocabulary: imports nothing
of accelsim).

``np = lazy_module("numpy")`` at the top of a module keeps the dependency visible where the
imports are, while a command that never calls into it (``accelsim step`` on a dense model
reads no MoE routing) never pays for the import (issue 18's start-up targets: numpy is about
0.08 s of a 0.5 s budget on the 2-core machine). The first read of an ordinary attribute
imports the module through ``importlib.import_module`` (the same module object every other
importer gets, from ``sys.modules``) and every such attribute read is kept on the stand-in, so
later reads are instance-dictionary look-ups (0.05-0.08 µs, about 0.02 µs more than on the
module itself). Double-underscore names are not forwarded (``copy``, ``pickle`` and
``inspect`` probe them: they import nothing). The stand-in is never put in ``sys.modules``:
whether the module is loaded stays what ``sys.modules`` says.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LazyModule", "lazy_attributes", "lazy_module"]


class LazyModule:
    """Stands for the module ``name``; reading an attribute imports it (see the module
    docstring). A plain object, not a ``types.ModuleType``: a module subclass with
    ``__getattr__`` takes a slow path on every read (0.14-0.4 µs)."""

    def __init__(self, name: str) -> None:
        self.__dict__["_lazy_name"] = name

    def __repr__(self) -> str:
        return f"<lazy module {self.__dict__['_lazy_name']!r}>"

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # copy, pickle and inspect probe these: no import
        value = getattr(importlib.import_module(self.__dict__["_lazy_name"]), attr)
        self.__dict__[attr] = value
        return value


def lazy_module(name: str) -> Any:
    """The stand-in for module ``name`` (typed ``Any``, as the module's attributes are)."""
    return LazyModule(name)


def lazy_attributes(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module-level ``__getattr__`` (PEP 562): public name ``name`` imported on
    first use from module ``where[name]`` (absolute), so importing the package loads none of
    them; any other name raises ``AttributeError`` naming ``package``."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
