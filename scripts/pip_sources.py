"""Where pip takes packages from on this machine, as environment variables for uv.

uv reads neither pip.conf nor ``PIP_*``, so a machine whose pip is pointed at a mirror, a local index or a folder of
wheels would resolve and install somewhere else with uv. This reads pip's own configuration (``pip config list``:
the config files and ``PIP_*``, in pip's order of precedence) and translates the package sources to uv's variables:

=====================  ==============================================================
pip                    uv
=====================  ==============================================================
``index-url``          ``UV_DEFAULT_INDEX``
``extra-index-url``    ``UV_INDEX`` (and ``UV_INDEX_STRATEGY=unsafe-best-match``, which
                       is pip's rule: the best version from any source)
``find-links``         ``UV_FIND_LINKS``
``no-index``           ``UV_NO_INDEX``
``cert``               ``SSL_CERT_FILE``
``default-timeout``    ``UV_HTTP_TIMEOUT``
=====================  ==============================================================

A variable already set in the environment is left as it is. Nothing is written anywhere: no host is named in the
repository, and a machine without pip configuration gets uv's defaults (PyPI).

``python scripts/pip_sources.py`` prints ``export NAME=value`` lines for a shell to ``eval``; the noxfile imports
:func:`uv_environment`.
"""

from __future__ import annotations

import ast
import os
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

# pip applies these sections in this order, each overriding the one before (":env:" is the PIP_* variables)
SECTIONS = ("global", "install", ":env:")


def _pip_config_list(python: str) -> str | None:
    # a venv made by uv has no pip of its own: then ask the pip on PATH (the machine's)
    for pip in ([python, "-m", "pip"], ["pip"], ["pip3"]):
        try:
            return subprocess.run(
                [*pip, "config", "list"], capture_output=True, text=True, check=True, timeout=60
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def pip_config(python: str = sys.executable) -> dict[str, str]:
    """pip's effective settings for ``pip install`` as ``{name: value}``; empty if pip cannot be asked."""
    out = _pip_config_list(python)
    if out is None:
        return {}
    found: dict[tuple[str, str], str] = {}
    for line in out.splitlines():
        key, sep, raw = line.partition("=")
        section, dot, name = key.rpartition(".")
        if not sep or not dot or section not in SECTIONS:
            continue
        try:
            value = str(ast.literal_eval(raw))  # pip prints each value as repr()
        except (ValueError, SyntaxError):
            value = raw.strip("'\"")
        found[(section, name)] = value
    return {name: value for section in SECTIONS for (sec, name), value in found.items() if sec == section}


def _true(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def uv_environment(environ: Mapping[str, str] | None = None, python: str = sys.executable) -> dict[str, str]:
    """The uv variables that make uv take packages from where pip does (only those not already set)."""
    environ = os.environ if environ is None else environ
    config = pip_config(python)
    env: dict[str, str] = {}
    if config.get("index-url"):
        env["UV_DEFAULT_INDEX"] = config["index-url"]
    extra = config.get("extra-index-url", "").split()
    if extra:
        env["UV_INDEX"] = " ".join(extra)
        env["UV_INDEX_STRATEGY"] = "unsafe-best-match"
    links = config.get("find-links", "").split()
    if links:
        env["UV_FIND_LINKS"] = ",".join(links)
    if _true(config.get("no-index", "")):
        env["UV_NO_INDEX"] = "1"
    if config.get("cert"):
        env["SSL_CERT_FILE"] = config["cert"]
    if config.get("default-timeout"):
        env["UV_HTTP_TIMEOUT"] = config["default-timeout"].split(".")[0]
    # UV_INDEX_URL / UV_EXTRA_INDEX_URL are the older spellings of the first two
    taken = (
        set(environ)
        | ({"UV_DEFAULT_INDEX"} if "UV_INDEX_URL" in environ else set())
        | ({"UV_INDEX", "UV_INDEX_STRATEGY"} if "UV_EXTRA_INDEX_URL" in environ else set())
    )
    return {name: value for name, value in env.items() if name not in taken}


def main() -> None:
    for name, value in uv_environment().items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()
