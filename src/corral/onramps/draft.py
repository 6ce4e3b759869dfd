"""What ``corral init`` found, before it is written: services with the origin of every guess."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Suggestion:
    """One service to write. ``command`` is None when a Procfile beside the TOML file gives it;
    each ``*_origin`` is the comment that says where that guess came from."""

    name: str
    origin: str
    command: str | list[str] | None
    cwd: str | None = None
    port: int | None = None
    port_origin: str = ""
    ready: dict[str, object] | None = None
    ready_origin: str = ""
    options: dict[str, object] = field(default_factory=dict)  # more keys, already corral's
    option_origins: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    commented: bool = False  # a suggestion only: written as comments


@dataclass
class Setting:
    key: str
    value: object
    origin: str


@dataclass
class Draft:
    services: list[Suggestion] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # header comments: what else was seen

    @property
    def active(self) -> list[Suggestion]:
        return [service for service in self.services if not service.commented]

    def unique_name(self, wanted: str) -> str:
        """``wanted`` made a valid service name, numbered if another service has it."""
        import re

        base = re.sub(r"[^A-Za-z0-9_-]+", "-", wanted).strip("-") or "service"
        taken = {service.name for service in self.services}
        name, number = base, 2
        while name in taken:
            name, number = f"{base}-{number}", number + 1
        return name
