"""Strategies from user code: a ``.py`` file, a folder of them, ``module:Class``, or an
installed package's entry point in the ``papertrade.strategies`` group.

Every failure is a one-line :class:`~papertrade.errors.ConfigError` naming the config file, the
key and the fix: a missing file or folder, a syntax (or import) error in the file, a class that
is not a Strategy. Files are imported under private module names (``papertrade_user.*``), once
per content: a file changed on disk is imported again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

from papertrade.errors import ConfigError
from papertrade.strategies.base import Strategy
from papertrade.util.text import did_you_mean

_LOADED: dict[tuple[str, int, int], ModuleType] = {}

ENTRY_POINT_GROUP = "papertrade.strategies"
_ENTRY_POINT_ORIGIN: dict[type[Strategy], str] = {}  # class -> "package NAME"


def origin(cls: type[Strategy]) -> str:
    """Where a strategy class comes from: ``shipped``, its file, or ``module:Class``."""
    module = cls.__module__
    if module.startswith("papertrade.strategies"):
        return "shipped"
    source = getattr(sys.modules.get(module), "__file__", None)
    if module.startswith("papertrade_user.") and source:
        return str(source)
    package = _ENTRY_POINT_ORIGIN.get(cls)
    if package is not None:
        return package
    return f"{module}:{cls.__qualname__}"


def installed(file: str = "command line") -> list[type[Strategy]]:
    """The strategies installed packages register in the ``papertrade.strategies`` group
    (``[project.entry-points."papertrade.strategies"] my_name = "my_pkg.module:MyStrategy"``).

    An entry point that fails to load, or names something that is not a concrete Strategy, is a
    ConfigError naming the package and the entry point: a broken plugin is never skipped
    silently, since a config may name it."""
    found: list[type[Strategy]] = []
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        package = point.dist.name if point.dist is not None else "an installed package"
        where = f"entry point '{point.name} = {point.value}' of {package}"
        try:
            cls = point.load()
        except Exception as exc:
            raise ConfigError(file, "strategy.name", f"{where} failed to import: "
                              f"{type(exc).__name__}: {exc}",
                              f"fix or uninstall {package} (papertrade -v shows the traceback)",
                              ) from exc
        if not (inspect.isclass(cls) and issubclass(cls, Strategy)) or inspect.isabstract(cls):
            raise ConfigError(file, "strategy.name", f"{where} is not a Strategy",
                              "point it at a concrete subclass of "
                              "papertrade.strategies.base.Strategy")
        if cls.name != point.name:
            raise ConfigError(file, "strategy.name",
                              f"{where} names a strategy called '{cls.name}'",
                              f"register it as '{cls.name}' (entry-point name = the class's "
                              "name attribute)")
        _ENTRY_POINT_ORIGIN[cls] = f"package {package}"
        found.append(cls)
    return found


def strategies_in(module: ModuleType) -> list[type[Strategy]]:
    """The concrete Strategy subclasses defined (not merely imported) in ``module``."""
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Strategy) and cls.__module__ == module.__name__
            and not inspect.isabstract(cls) and isinstance(getattr(cls, "name", None), str)]


def _import_failure(path: object, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error in {path} line {exc.lineno}: {exc.msg}"
    return f"{path} failed to import: {type(exc).__name__}: {exc}"


def load_file(path: Path, file: str, key: str) -> ModuleType:
    """Import the Python file ``path`` (ConfigError under ``key`` when it cannot be)."""
    if not path.is_file():
        raise ConfigError(file, key, f"no strategy file {path}",
                          "give a .py file; a relative path is read from the config's folder")
    resolved = path.resolve()
    stat = resolved.stat()
    cache_key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if cache_key in _LOADED:
        return _LOADED[cache_key]
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in resolved.stem)
    name = f"papertrade_user.{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(file, key, f"{path} is not a Python file", "give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the Params' annotations through it
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(file, key, _import_failure(path, exc),
                          "fix the file (papertrade -v shows the traceback)") from exc
    _LOADED[cache_key] = module
    return module


def scan_folder(folder: Path, file: str = "command line") -> list[type[Strategy]]:
    """The strategies of every ``.py`` file in ``folder`` (``--strategy-path``)."""
    if not folder.is_dir():
        raise ConfigError(file, "--strategy-path", f"no folder {folder}",
                          "give a folder holding strategy .py files")
    found: list[type[Strategy]] = []
    for path in sorted(folder.glob("*.py")):
        if not path.name.startswith("_"):
            found.extend(strategies_in(load_file(path, file, "--strategy-path")))
    return found


def from_file(path: Path, name: str, file: str,
              others: dict[str, type[Strategy]]) -> type[Strategy]:
    """The strategy ``name`` (its ``name`` or its class name) defined in the file ``path``."""
    module = load_file(path, file, "strategy.path")
    defined = strategies_in(module)
    for cls in defined:
        if name in (cls.name, cls.__name__):
            return cls
    other = getattr(module, name, None)
    if inspect.isclass(other):
        raise ConfigError(file, "strategy.name", f"{name} in {path} is not a Strategy",
                          "subclass papertrade.strategies.base.Strategy")
    names = [cls.name for cls in defined]
    hint = did_you_mean(name, [*names, *others])
    raise ConfigError(file, "strategy.name", f"{path} defines no strategy '{name}'",
                      hint or f"it defines: {', '.join(names) or 'none'}")


def from_module(spec: str, file: str) -> type[Strategy]:
    """The class named by ``module:Class`` (importable from ``sys.path``)."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(file, "strategy.name", f"no module '{module_name}'",
                              "check the name, or add its folder to PYTHONPATH") from None
        raise ConfigError(file, "strategy.name", _import_failure(module_name, exc),
                          "fix the module") from exc
    except Exception as exc:
        raise ConfigError(file, "strategy.name", _import_failure(module_name, exc),
                          "fix the module (papertrade -v shows the traceback)") from exc
    cls = getattr(module, attr, None)
    if cls is None:
        hint = did_you_mean(attr, [c.__name__ for c in strategies_in(module)])
        raise ConfigError(file, "strategy.name", f"module '{module_name}' has no '{attr}'",
                          hint or "write module:Class")
    if not (inspect.isclass(cls) and issubclass(cls, Strategy)) or inspect.isabstract(cls):
        raise ConfigError(file, "strategy.name", f"'{spec}' is not a Strategy",
                          "name a concrete subclass of papertrade.strategies.base.Strategy")
    return cls


def source_identity(cls: type[Strategy]) -> dict[str, str]:
    """What identifies a strategy's code for a run's hash and manifest: ``shipped`` (the
    papertrade version pins it), or the user's file or module with the SHA-256 of its source,
    so an edited strategy file never shares a run hash with its earlier self."""
    identity = {"origin": origin(cls)}
    if identity["origin"] == "shipped":
        return identity
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        path = None
    if path is not None and Path(path).is_file():
        identity["sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return identity
