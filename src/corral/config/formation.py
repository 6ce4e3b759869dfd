"""foreman's formation (``-m web=2,worker=0``): how many copies of each service to run.

A service run twice becomes ``web.1`` and ``web.2``, PORT one apart (foreman's rule: the
service's PORT, plus 0, 1, ...); a count of 0 leaves it out. ``all=N`` sets the default count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from corral.errors import UsageError
from corral.model import ServiceSpec

MAX_COPIES = 50  # more is a typo, not a development setup


def parse_formation(text: str) -> dict[str, int]:
    """``"web=2,worker=3"`` (or ``"all=2"``) as a mapping; a bad item is a usage error."""
    counts: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, count = item.partition("=")
        if not sep or not name or not count.strip().isdigit():
            raise UsageError(
                f"cannot read formation item {item!r}", hint="write NAME=COUNT, e.g. -m web=2,css=0"
            )
        if int(count) > MAX_COPIES:
            raise UsageError(f"formation {item!r}: at most {MAX_COPIES} copies of a service")
        counts[name.strip()] = int(count)
    return counts


def apply_formation(
    specs: list[ServiceSpec], formation: Mapping[str, int] | None
) -> list[ServiceSpec]:
    """The services as the formation asks for them, in the same order."""
    if not formation:
        return specs
    names = [spec.name for spec in specs]
    unknown = [name for name in formation if name != "all" and name not in names]
    if unknown:
        from corral.errors import check_services

        check_services(unknown, names)
    default = formation.get("all", 1)
    counts = {spec.name: formation.get(spec.name, default) for spec in specs}
    copies = {name: _copy_names(name, count) for name, count in counts.items()}
    result: list[ServiceSpec] = []
    for spec in specs:
        _check_left_out(spec, copies)
        if counts[spec.name] > 1 and spec.ports:
            raise UsageError(
                f"service {spec.name!r} declares port {spec.ports[0]}: it cannot run "
                f"{counts[spec.name]} copies",
                hint=f"run one ({spec.name}=1), or drop its port and use $PORT",
            )
        depends_on = tuple(copy for dep in spec.depends_on for copy in copies[dep])
        for number, name in enumerate(copies[spec.name]):
            env = dict(spec.env)
            if name != spec.name:
                env["PORT"] = str(int(spec.env["PORT"]) + number)
            result.append(dataclasses.replace(spec, name=name, env=env, depends_on=depends_on))
    return result


def _copy_names(name: str, count: int) -> list[str]:
    if count == 1:
        return [name]  # one copy keeps its name, so nothing else changes for it
    return [f"{name}.{number}" for number in range(1, count + 1)]


def _check_left_out(spec: ServiceSpec, copies: Mapping[str, list[str]]) -> None:
    if not copies[spec.name]:
        return
    for dependency in spec.depends_on:
        if not copies[dependency]:
            raise UsageError(
                f"{spec.name!r} depends on {dependency!r}, which the formation leaves out",
                hint=f"run at least one {dependency} ({dependency}=1)",
            )
