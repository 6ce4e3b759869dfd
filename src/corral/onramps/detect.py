"""What a project already says about its services, gathered into a ``Draft``.

Precedence: a Procfile (``Procfile.dev``, ``Procfile``, or the one a Rails/Overmind ``bin/dev``
runs) names the services by itself, and corral reads it as it is: the draft only adds ports and
probes. Without one, a ``process-compose.yaml`` is translated. Otherwise package.json scripts
and workspaces and a Django ``manage.py`` are gathered together. docker compose services with a
``command`` are only ever suggestions, written as comments.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from corral.config.compose import find_compose, load_compose
from corral.config.procfile import parse_procfile
from corral.onramps.draft import Draft, Setting, Suggestion
from corral.onramps.guess import add_port, add_probe, dedupe_ports
from corral.onramps.node import detect_node

PROCFILES = ("Procfile.dev", "Procfile")
DOCKER_COMPOSE = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
_BIN_DEV_PROCFILE = re.compile(r"(?:-f|--procfile)[= ]\s*['\"]?([\w./-]+)")
_BIN_DEV_PORT = re.compile(r"\bPORT=['\"]?(?:\$\{PORT:-)?(\d{2,5})")
DJANGO_DEFAULT_PORT = 8000


def detect(root: Path) -> Draft:
    draft = Draft()
    procfile = _procfile(root, draft)
    if procfile is not None:
        _from_procfile(root, procfile, draft)
    elif find_compose(root) is not None:
        _from_process_compose(root, find_compose(root), draft)  # type: ignore[arg-type]
    else:
        detect_node(root, draft)
        _from_django(root, draft)
    _docker_compose(root, draft)
    dedupe_ports(draft.services)
    return draft


def _procfile(root: Path, draft: Draft) -> Path | None:
    """The Procfile corral will read, after bin/dev says which one and its PORT."""
    bin_dev = root / "bin" / "dev"
    if bin_dev.is_file():
        text = bin_dev.read_text(encoding="utf-8", errors="replace")
        port = _BIN_DEV_PORT.search(text)
        if port:
            draft.settings.append(
                Setting("port_base", int(port.group(1)), f"from bin/dev: PORT={port.group(1)}")
            )
        named = _BIN_DEV_PROCFILE.search(text)
        if named and named.group(1) not in PROCFILES:
            draft.notes.append(
                f"bin/dev runs {named.group(1)}; corral reads Procfile.dev or Procfile: "
                f"rename it, or pass -f {named.group(1)}"
            )
    return next((root / name for name in PROCFILES if (root / name).is_file()), None)


def _from_procfile(root: Path, path: Path, draft: Draft) -> None:
    draft.notes.append(f"{path.name} names the services and their commands; corral reads it too")
    base = next((s.value for s in draft.settings if s.key == "port_base"), None)
    rails_health = _rails_health(root)
    for index, entry in enumerate(parse_procfile(path.read_text(encoding="utf-8"), path)):
        service = Suggestion(entry.name, f"{path.name}:{entry.line}: {entry.command}", None)
        add_port(service, entry.command, root)
        if service.port is None and index == 0 and isinstance(base, int):
            service.port = base
            service.port_origin = "bin/dev's PORT, which foreman gives the first Procfile line"
        is_rails = "rails s" in entry.command or "rails server" in entry.command
        add_probe(service, "/up" if is_rails and rails_health else None, rails_health)
        draft.services.append(service)


def _rails_health(root: Path) -> str:
    routes = root / "config" / "routes.rb"
    if routes.is_file() and "rails/health" in routes.read_text(errors="replace"):
        return "Rails' health check route /up (config/routes.rb)"
    return ""


def _from_process_compose(root: Path, path: Path, draft: Draft) -> None:
    source = load_compose(path)
    services = source.data.get("services")
    assert isinstance(services, dict)
    for name, table in services.items():
        options = dict(table)
        command = options.pop("command", None)
        line = source.line_of("services", name)
        service = Suggestion(name, f"{path.name}:{line}", command, options=options)
        for key in options:
            origin = source.names.get(("services", name, key))
            if origin:
                service.option_origins[key] = origin
        draft.services.append(service)
    warning = source.warning()
    if warning:
        draft.notes.append(warning)


def _from_django(root: Path, draft: Draft) -> None:
    candidates = [root / "manage.py", *sorted(root.glob("*/manage.py"))]
    manage = next((p for p in candidates if p.is_file() and _is_django(p)), None)
    if manage is None:
        return
    cwd = manage.parent.relative_to(root)
    venvs = (manage.parent / ".venv", manage.parent / "venv", root / ".venv", root / "venv")
    venv = next((p for p in venvs if (p / "bin" / "python").is_file()), None)
    python = os.path.relpath(venv / "bin" / "python", manage.parent) if venv else "python3"
    where = f"{cwd}/manage.py" if str(cwd) != "." else "manage.py"
    service = Suggestion(
        draft.unique_name("web" if not any(s.name == "web" for s in draft.services) else "django"),
        f"{where}: Django's development server"
        + (f"; {python} is the project's virtualenv" if venv else ""),
        f"{python} manage.py runserver 127.0.0.1:$PORT",
        cwd=None if str(cwd) == "." else str(cwd),
        port=DJANGO_DEFAULT_PORT,
        port_origin="Django's default runserver port",
    )
    add_probe(service)
    draft.services.append(service)


def _is_django(path: Path) -> bool:
    return "django" in path.read_text(encoding="utf-8", errors="replace").lower()


def _docker_compose(root: Path, draft: Draft) -> None:
    path = next((root / name for name in DOCKER_COMPOSE if (root / name).is_file()), None)
    if path is None:
        return
    try:
        import yaml
    except ImportError:
        draft.notes.append(
            f"{path.name} was not read: that needs PyYAML (pip install 'corral[yaml]')"
        )
        return
    try:
        document = yaml.load(
            path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        )
    except yaml.YAMLError:
        draft.notes.append(f"{path.name} is not valid YAML: not read")
        return
    services = document.get("services") if isinstance(document, dict) else None
    for name, spec in (services or {}).items():
        if not isinstance(spec, dict) or not spec.get("command"):
            continue
        command = spec["command"]
        text = (
            shlex.join(str(part) for part in command) if isinstance(command, list) else str(command)
        )
        image = f", image {spec['image']}" if spec.get("image") else ""
        service = Suggestion(
            draft.unique_name(str(name)),
            f"{path.name}: services.{name}{image}: its command, if it runs here too",
            text,
            commented=True,
        )
        draft.services.append(service)
