"""docs/design.md's map of the source tree stays true: every top-level module and package is in its
module table, every module of the process-role packages is named there, and the layer diagram
names every module the import-linter layers contract lists."""

from __future__ import annotations

import re
import tomllib

from harness import REPO

ROOT = REPO
SOURCE = ROOT / "src" / "corral"
ROLES = ("supervisor", "launch", "reclaim", "control")  # one package per process role


def boundaries() -> str:
    text = (ROOT / "docs" / "design.md").read_text()
    section = text[text.index("## Module boundaries") :]
    return section[: section.index("\n## ", 5)]


def named(section: str) -> set[str]:
    """Everything the section writes as code: `engine`, `supervisor/`, `reclaim/recovery`."""
    return {name.rstrip("/") for name in re.findall(r"`([a-z_/]+)`", section)}


def test_every_top_level_module_and_package_is_in_the_module_table() -> None:
    names = named(boundaries())
    top = {p.stem for p in SOURCE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    top |= {p.name for p in SOURCE.iterdir() if (p / "__init__.py").exists()}
    assert sorted(top - names) == []


def test_every_module_of_a_process_role_package_is_named() -> None:
    names = named(boundaries())
    for role in ROLES:
        for path in (SOURCE / role).glob("*.py"):
            if path.stem == "__init__":
                continue
            assert path.stem in names or f"{role}/{path.stem}" in names, f"{role}/{path.stem}"


def test_the_layer_diagram_names_every_module_of_the_layers_contract() -> None:
    section = boundaries()
    diagram = section[section.index("```") : section.index("```", section.index("```") + 3)]
    drawn = set(re.findall(r"[a-z_]+", diagram))
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    modules = {
        name.strip().removeprefix("corral.")
        for layer in contract["layers"]
        for name in re.split(r"[:|]", layer)
    }
    assert sorted(modules - drawn) == []
