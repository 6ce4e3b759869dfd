"""The operating system contract, chosen once per process.

This package is the only place in corral that sends signals, reads /proc, talks netlink or
touches cgroups. ``linux`` has every layer (pidfd, subreaper, cgroup v2, /proc scans, inet_diag);
``portable`` is what macOS gets: psutil, sessions, a lifeline file, no cgroup, no subreaper, no
pidfd and no /proc (its few macOS-only calls are in ``darwin``). Both export the same names.

``CORRAL_OSLAYER=portable`` selects the portable layer on Linux too, so that the path macOS takes
is exercised by every CI run (see ``portable`` for what it imitates of macOS there). The choice
is read once, here, when corral first imports this package; children inherit the variable.
"""

import os
import sys

from corral.markers import OSLAYER

PORTABLE = not sys.platform.startswith("linux") or os.environ.get(OSLAYER) == "portable"
NAME = "portable" if PORTABLE else "linux"

if PORTABLE:
    from corral.oslayer.portable import *  # noqa: F403
    from corral.oslayer.portable import __all__
else:
    from corral.oslayer.linux import *  # noqa: F403
    from corral.oslayer.linux import __all__

__all__ = [*__all__, "NAME", "PORTABLE"]
