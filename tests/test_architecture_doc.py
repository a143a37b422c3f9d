"""``docs/architecture.md`` stays true: every module and object it names exists, and it names
every layer folder and every module of the package."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
LAYERS = ("catalog", "model", "sim", "run", "sweep", "validate", "questions", "report", "cli")


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module("accelsim." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_named_objects_exist() -> None:
    pattern = r"`((?:" + "|".join(LAYERS) + r")\.[A-Za-z_][\w.]*)`"
    names = {n for n in re.findall(pattern, DOC) if not n.endswith(".py")}
    assert len(names) > 15
    missing = []
    for name in sorted(names):
        try:
            _resolve(name.rstrip("."))
        except (ModuleNotFoundError, AttributeError):
            missing.append(name)
    assert missing == []


def test_every_layer_and_module_is_described() -> None:
    for layer in LAYERS:
        assert f"**{layer}/**" in DOC, layer
        for path in sorted((ROOT / "accelsim" / layer).rglob("*.py")):
            if path.name == "__init__.py" or path.parent.name == "templates":
                continue
            stem = path.stem if path.parent.name == layer else f"{path.parent.name}/{path.stem}"
            assert f"`{stem}" in DOC or f"`{path.stem}" in DOC, f"{layer}/{stem} not described"
