"""Everything that runs inside the supervisor process of one project (``python -m
corral.supervisor.daemon``), and the watcher helper it spawns for ``--watch``. Imported by nobody
outside this package: clients reach the supervisor through its socket (``corral.client``)."""
