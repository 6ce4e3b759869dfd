from corral.cli import entry_point

entry_point()
