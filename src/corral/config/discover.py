"""Finding the project: which directory is its root and which files configure it.

Order, from the start directory upward, stopping at the first directory that has any of:
``corral.toml``, ``pyproject.toml`` with a ``[tool.corral]`` table, ``Procfile.dev``,
``Procfile``, and last ``process-compose.yaml`` / ``.yml``. In that directory the TOML file
(``corral.toml`` or ``[tool.corral]``) and the Procfile (``Procfile.dev`` before ``Procfile``) are
read together; a process-compose file is read only where neither is there, and alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corral.config.compose import find_compose
from corral.config.tomlfile import has_corral_table
from corral.errors import ConfigError, ProjectNotFound

PROCFILE_NAMES = ("Procfile.dev", "Procfile")


@dataclass(frozen=True)
class Discovered:
    root: Path
    toml: Path | None  # corral.toml or pyproject.toml
    procfile: Path | None
    compose: Path | None = None  # process-compose.yaml: only when the other two are None

    @property
    def files(self) -> tuple[Path, ...]:
        found = (self.procfile, self.toml, self.compose)
        return tuple(path for path in found if path is not None)


def discover(start: Path, explicit_file: Path | None = None) -> Discovered:
    if explicit_file is not None:
        return _from_file(start, explicit_file)
    start = start.resolve()
    if not start.is_dir():
        raise ProjectNotFound(f"{start}: no such directory", hint="check the -C argument")
    for directory in (start, *start.parents):
        found = _in_directory(directory)
        if found is not None:
            return found
    raise ProjectNotFound(
        f"no corral.toml, pyproject.toml [tool.corral], Procfile.dev, Procfile or "
        f"process-compose.yaml in {start} "
        "or any parent directory",
        hint="run 'corral init' there, or pass -C DIR or -f FILE",
    )


def _in_directory(directory: Path) -> Discovered | None:
    toml = _toml_in(directory)
    procfile = next(
        (directory / name for name in PROCFILE_NAMES if (directory / name).is_file()), None
    )
    if toml is None and procfile is None:
        compose = find_compose(directory)
        return None if compose is None else Discovered(directory, None, None, compose)
    return Discovered(directory, toml, procfile)


def _toml_in(directory: Path) -> Path | None:
    corral_toml = directory / "corral.toml"
    pyproject = directory / "pyproject.toml"
    in_pyproject = pyproject.is_file() and has_corral_table(pyproject)
    if corral_toml.is_file():
        if in_pyproject:
            raise ConfigError(
                pyproject,
                "both corral.toml and pyproject.toml [tool.corral] configure this project",
                hint="keep one of them",
            )
        return corral_toml
    return pyproject if in_pyproject else None


def _from_file(start: Path, explicit_file: Path) -> Discovered:
    path = (start / explicit_file).resolve()
    if not path.is_file():
        raise ProjectNotFound(f"{path}: no such file", hint="check the -f argument")
    if path.suffix in (".yaml", ".yml"):
        return Discovered(path.parent, None, None, path)
    if path.suffix != ".toml":
        return Discovered(path.parent, None, path)
    if path.name == "pyproject.toml" and not has_corral_table(path):
        raise ConfigError(path, "has no [tool.corral] table", hint="add one, or use corral.toml")
    procfile = next(
        (path.parent / name for name in PROCFILE_NAMES if (path.parent / name).is_file()), None
    )
    return Discovered(path.parent, path, procfile)
