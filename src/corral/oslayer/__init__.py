"""The operating system contract, chosen once per platform.

This package is the only place in corral that sends signals, reads /proc, talks netlink or
touches cgroups. ``linux`` has every layer (pidfd, subreaper, cgroup v2, /proc scans, inet_diag);
``posix`` is the best effort psutil allows elsewhere (macOS). Both export the same names.
"""

import sys

if sys.platform.startswith("linux"):
    from corral.oslayer.linux import *  # noqa: F403
    from corral.oslayer.linux import __all__
else:  # pragma: no cover - exercised on macOS only
    from corral.oslayer.posix import *  # noqa: F403
    from corral.oslayer.posix import __all__

__all__ = list(__all__)
