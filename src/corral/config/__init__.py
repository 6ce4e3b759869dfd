"""Configuration: discovery, parsing and validation, ending in a ``ProjectSpec``."""

from corral.config.loader import load_project

__all__ = ["load_project"]
