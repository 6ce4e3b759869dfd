"""Configuration: discovery, parsing and validation, ending in a ``ProjectSpec``."""

from corral.config.loader import Overrides, load_project

__all__ = ["Overrides", "load_project"]
