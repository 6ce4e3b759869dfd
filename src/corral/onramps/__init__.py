"""On-ramps and off-ramps: ``corral init`` (a configuration drafted from what a project already
has) and ``corral export`` (a configuration for the tools a project moves on to)."""
