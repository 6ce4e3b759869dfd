"""Configuration: discovery, parsing and validation, ending in a ``ProjectSpec``.

The loader is imported when first asked for: a command that needs only a small part
(``corral.config.durations`` for a ``--timeout``) must not pay for the whole pipeline.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from corral.config.loader import Overrides, load_project

__all__ = ["Overrides", "load_project"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from corral.config import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
