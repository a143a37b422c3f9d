"""The serving frameworks' documented options, as stored next to this module (``options/``).

Each file lists one framework version's command-line options, read from the released package
(``pip download --no-deps``, every ``add_argument`` call's option strings and literal choices,
read with Python's ``ast``; the file's ``source`` names the package, its SHA-256 and the files
read): ``vllm-0.13.0.yaml`` (``vllm serve``), ``sglang-0.5.4.yaml``
(``python -m sglang.launch_server``) and ``vllm-ascend-0.13.0.yaml`` (a vLLM platform plugin:
``vllm serve``'s options plus the ``--additional-config`` keys its ``AscendConfig`` reads).
``values`` holds the accepted values of JSON-valued options (``speculative_config.method``,
``kv_transfer_config.kv_connector``). A recipe checks every flag and value it writes here, so a
flag renamed in a later release fails a test rather than a launch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from accelsim.errors import AccelsimError

__all__ = ["OPTION_FILES", "OptionList", "option_list"]

#: framework -> the stored option file it is checked against
OPTION_FILES = {
    "vllm": "vllm-0.13.0.yaml",
    "sglang": "sglang-0.5.4.yaml",
    "vllm-ascend": "vllm-ascend-0.13.0.yaml",
}


@dataclass(frozen=True)
class OptionList:
    """One framework version's options: ``flags`` (option string -> literal choices or
    ``None``), the negatable booleans, the accepted values of JSON-valued options."""

    framework: str
    version: str
    file: str
    flags: dict[str, tuple[Any, ...] | None]
    negatable: frozenset[str]
    values: dict[str, tuple[Any, ...]]

    def check(self, flag: str, value: Any = None) -> None:
        """Raise unless ``flag`` (``--no-X`` for a negatable ``--X``) is a documented option and
        ``value`` one of its literal choices, when it has any."""
        name = flag
        if flag.startswith("--no-") and "--" + flag[5:] in self.negatable:
            name = "--" + flag[5:]
        if name not in self.flags:
            raise AccelsimError(
                f"{self.framework} {self.version} has no option {flag} ({self.file})"
            )
        choices = self.flags[name]
        if choices is not None and value is not None and value not in choices:
            raise AccelsimError(
                f"{self.framework} {self.version}: {flag} {value!r} is not one of "
                f"{', '.join(map(str, choices))} ({self.file})"
            )

    def check_value(self, key: str, value: Any) -> None:
        """Raise unless ``value`` is an accepted value of the JSON-valued option ``key``."""
        if value not in self.values.get(key, ()):
            raise AccelsimError(
                f"{self.framework} {self.version}: {key} {value!r} is not one of "
                f"{', '.join(map(str, self.values.get(key, ())))} ({self.file})"
            )


def _read(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath("options", name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def option_list(framework: str) -> OptionList:
    """The stored option list of ``framework`` (``vllm``, ``sglang`` or ``vllm-ascend``); a
    file that ``extends`` another (vLLM-Ascend on vLLM) adds its values to the other's."""
    if framework not in OPTION_FILES:
        raise AccelsimError(f"no stored option list for {framework!r}")
    raw = _read(OPTION_FILES[framework])
    base = _read(raw["extends"] + ".yaml") if raw.get("extends") else {}
    opts = {**base.get("options", {}), **raw.get("options", {})}
    flags = {k: tuple(v["choices"]) if v and "choices" in v else None for k, v in opts.items()}
    neg = {**base.get("boolean_optional", {}), **raw.get("boolean_optional", {})}
    values = {k: tuple(v) for k, v in {**base.get("values", {}), **raw.get("values", {})}.items()}
    return OptionList(
        framework=raw["framework"],
        version=str(raw["version"]),
        file=OPTION_FILES[framework],
        flags=flags,
        negatable=frozenset(neg.get("options", ())),
        values=values,
    )
