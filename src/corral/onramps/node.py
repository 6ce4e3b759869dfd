"""package.json projects: the root's ``dev``/``start`` script, or one service per workspace with
a ``dev`` script (npm/yarn ``workspaces``, ``pnpm-workspace.yaml``), run by the package manager
that the lock file names."""

from __future__ import annotations

import json
import re
from pathlib import Path

from corral.onramps.draft import Draft, Suggestion
from corral.onramps.guess import add_port, add_probe

LOCK_FILES = (
    ("pnpm-lock.yaml", "pnpm"),
    ("yarn.lock", "yarn"),
    ("bun.lock", "bun"),
    ("bun.lockb", "bun"),
    ("package-lock.json", "npm"),
)


def package_manager(root: Path) -> tuple[str, str]:
    """The package manager and why: its lock file, else npm."""
    for name, manager in LOCK_FILES:
        if (root / name).is_file():
            return manager, f"{name} names {manager}"
    return "npm", "no lock file: npm"


def read_package(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def scripts_of(package: dict[str, object]) -> dict[str, str]:
    scripts = package.get("scripts")
    if not isinstance(scripts, dict):
        return {}
    return {str(k): v for k, v in scripts.items() if isinstance(v, str)}


def workspace_patterns(root: Path, package: dict[str, object]) -> list[str]:
    value = package.get("workspaces")
    if isinstance(value, dict):  # yarn's {packages: [...]}
        value = value.get("packages")
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, str)]
    return _pnpm_patterns(root / "pnpm-workspace.yaml")


def _pnpm_patterns(path: Path) -> list[str]:
    """The ``packages:`` list of pnpm-workspace.yaml: a plain list, read without a YAML library
    (negated patterns are left out)."""
    if not path.is_file():
        return []
    patterns: list[str] = []
    inside = False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if re.match(r"^packages\s*:", line):
            inside = True
            continue
        item = re.match(r"^\s+-\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
        if inside and item:
            if not item.group(1).startswith("!"):
                patterns.append(item.group(1))
        elif inside and line.strip() and not line.startswith((" ", "\t")):
            inside = False
    return patterns


def workspace_dirs(root: Path, patterns: list[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern.rstrip("/"))):
            if (path / "package.json").is_file() and path not in found:
                found.append(path)
    return found


def detect_node(root: Path, draft: Draft) -> None:
    if not (root / "package.json").is_file():
        return
    package = read_package(root / "package.json")
    if package is None:
        draft.notes.append("package.json is not a valid JSON object: its scripts were not read")
        return
    manager, why = package_manager(root)
    workspaces = workspace_dirs(root, workspace_patterns(root, package))
    added = False
    for directory in workspaces:
        member = read_package(directory / "package.json") or {}
        if "dev" in scripts_of(member):
            _add(draft, root, directory, member, "dev", manager, why)
            added = True
    if added:
        if any(script in scripts_of(package) for script in ("dev", "start")):
            draft.notes.append(
                "package.json's own dev/start script is left out: the workspaces' dev scripts "
                "are services of their own"
            )
        return
    scripts = scripts_of(package)
    script = "dev" if "dev" in scripts else "start" if "start" in scripts else None
    if script is not None:
        _add(draft, root, root, package, script, manager, why)


def _add(
    draft: Draft,
    root: Path,
    directory: Path,
    package: dict[str, object],
    script: str,
    manager: str,
    why: str,
) -> None:
    relative = "" if directory == root else str(directory.relative_to(root))
    label = str(package.get("name") or directory.name).split("/")[-1]
    manifest = f"{relative}/package.json" if relative else "package.json"
    service = Suggestion(
        name=draft.unique_name(label if relative else (label or "web")),
        origin=f"{manifest}: scripts.{script} ({scripts_of(package)[script]!r}); {why}",
        command=f"{manager} run {script}",
        cwd=relative or None,
    )
    add_port(service, scripts_of(package)[script], directory, relative)
    if service.port is None:
        service.notes.append(
            "no port in the script or a vite/next config: it gets PORT (make it listen there, "
            "e.g. vite --port $PORT), or add port = N"
        )
    add_probe(service)
    draft.services.append(service)
