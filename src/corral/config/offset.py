"""A port offset for a second checkout of a project: every port moves by the same amount."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from corral.config.values import describe
from corral.model import ProbeKind, ReadyProbe


def as_port_offset(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 65535:
        raise ValueError(f"expected a whole number from 0 to 65534, got {describe(value)}")
    return value


def shift_probe(probe: ReadyProbe | None, offset: int) -> ReadyProbe | None:
    """The probe of a project whose ports moved by ``offset``: a tcp port, or the explicit port
    of an http URL, moves with them."""
    if probe is None or not offset:
        return probe
    if probe.kind is ProbeKind.TCP:
        return dataclasses.replace(probe, target=int(probe.target) + offset)
    if probe.kind is ProbeKind.HTTP:
        parts = urlsplit(str(probe.target))
        if parts.port is not None:
            host = parts.netloc.rsplit(":", 1)[0]
            url = parts._replace(netloc=f"{host}:{parts.port + offset}").geturl()
            return dataclasses.replace(probe, target=url)
    return probe
