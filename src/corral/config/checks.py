"""The checks across services, once each service is valid on its own: names that differ only in
case, dependencies (known, acyclic), ports (no two services on one), and the start order that
puts dependencies first."""

from __future__ import annotations

from corral.config.context import Context, RawService
from corral.model import ServiceSpec


def check_case_clashes(ctx: Context, raw: list[RawService]) -> None:
    """``Web`` and ``web`` are one service to a person typing, and one log file on a
    case-insensitive filesystem (macOS): refuse them."""
    seen: dict[str, str] = {}
    for service in raw:
        other = seen.setdefault(service.name.lower(), service.name)
        if other != service.name:
            raise ctx.error(
                ("services", service.name),
                f"service {service.name!r} differs from {other!r} only in case",
                "rename one of them",
            )


def check_dependencies(ctx: Context, specs: list[ServiceSpec]) -> None:
    names = [spec.name for spec in specs]
    for spec in specs:
        for dependency in spec.depends_on:
            if dependency not in names:
                import difflib  # only on the error path

                close = difflib.get_close_matches(dependency, names, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"services: {', '.join(names)}"
                raise ctx.error(
                    ("services", spec.name, "depends_on"), f"unknown service {dependency!r}", hint
                )
    cycle = _find_cycle({spec.name: spec.depends_on for spec in specs}, names)
    if cycle:
        raise ctx.error(
            ("services", cycle[0], "depends_on"),
            f"dependency cycle: {' -> '.join(cycle)}",
            "remove one of these depends_on",
        )


def _find_cycle(graph: dict[str, tuple[str, ...]], order: list[str]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for dependency in graph[node]:
            found = visit(dependency, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for name in order:
        found = visit(name, [])
        if found:
            return found
    return None


def check_ports(ctx: Context, specs: list[ServiceSpec]) -> None:
    owner: dict[int, str] = {}
    for spec in specs:
        for port in spec.ports:
            if port in owner:
                raise ctx.error(
                    ("services", spec.name, "port"),
                    f"port {port} is also claimed by service {owner[port]!r}",
                    "give each port to one service",
                )
            owner[port] = spec.name
    for spec in specs:
        port = int(spec.env["PORT"])
        if not spec.ports and port > 65535:
            raise ctx.error(
                ("services", spec.name),
                f"port_base gives {spec.name!r} PORT {port}, beyond the last port (65535)",
                "lower port_base, or give the service a port",
                at=("port_base",),
            )
        if not spec.ports and port in owner:
            raise ctx.error(
                ("services", spec.name),
                f"PORT {port} given to {spec.name!r} by port_base is declared by "
                f"service {owner[port]!r}",
                f"set port_base, or give {spec.name!r} a port",
            )


def start_order(specs: list[ServiceSpec]) -> list[ServiceSpec]:
    """Dependencies first; otherwise file order (a stable topological sort)."""
    ordered: list[ServiceSpec] = []
    placed: set[str] = set()
    pending = list(specs)
    while pending:
        ready = next(s for s in pending if all(d in placed for d in s.depends_on))
        ordered.append(ready)
        placed.add(ready.name)
        pending.remove(ready)
    return ordered
