"""corral: a development process manager that never leaves orphans, never kills strangers and
never hangs.

The engine is a library; ``corral.cli`` is a thin layer over it.
"""

__version__ = "0.1.0"
