"""Finding checks: built-ins by walking the `checks` package, others by entry point.

Nothing is imported until it is used: a built-in check's module is imported
when a runbook names it (or every one, when all are listed), and installed
packages are scanned for third-party checks (entry-point group
`runbook.checks`, name = check id) only when a check is not built in or all
are listed. So a runbook pays for its own checks only, and one broken check
or plugin is reported and never stops the others.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
from dataclasses import dataclass, field

from runbook.checkapi import Check

ENTRY_POINT_GROUP = "runbook.checks"
BUILTIN_PACKAGE = "checks"


class UnknownCheckError(KeyError):
    pass


class CheckLoadError(RuntimeError):
    pass


@dataclass
class CheckEntry:
    id: str
    origin: str  # "builtin" or "plugin <distribution>"
    value: str  # module path or entry-point value
    cls: type[Check] | None = None
    error: str | None = None


@dataclass
class CheckRegistry:
    entries: dict[str, CheckEntry] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    plugins: bool = True
    """Whether installed packages may add checks; scanned when first needed."""
    _plugins_listed: bool = False

    @classmethod
    def discover(cls, *, plugins: bool = True) -> CheckRegistry:
        registry = cls(plugins=plugins)
        registry._walk_builtins()
        return registry

    def _walk_builtins(self) -> None:
        """Every module of the `checks` package, by name: imported when first used."""
        try:
            package = importlib.import_module(BUILTIN_PACKAGE)
        except ImportError as exc:
            self.problems.append(f"built-in checks package not importable: {exc}")
            return
        for info in pkgutil.walk_packages(package.__path__, BUILTIN_PACKAGE + "."):
            if not info.ispkg:
                check_id = info.name.removeprefix(BUILTIN_PACKAGE + ".")
                self.entries[check_id] = CheckEntry(check_id, "builtin", info.name)

    def _import_builtin(self, entry: CheckEntry) -> None:
        """Import a built-in module and keep its check; drop the entry if it has none."""
        try:
            module = importlib.import_module(entry.value)
        except Exception as exc:  # a broken check is reported, never fatal
            self._broken(entry, f"{entry.value}: failed to import: {exc!r}")
            return
        classes = [
            obj
            for obj in vars(module).values()
            if inspect.isclass(obj)
            and issubclass(obj, Check)
            and obj.__module__ == module.__name__
            and not inspect.isabstract(obj)
        ]
        if not classes:
            del self.entries[entry.id]  # helpers shared by several checks
            return
        if len(classes) > 1:
            self._broken(entry, f"{entry.value}: more than one check class in one module")
            return
        try:
            _validate(classes[0], entry.id)
        except CheckLoadError as exc:
            self._broken(entry, str(exc))
            return
        entry.cls = classes[0]

    def _broken(self, entry: CheckEntry, problem: str) -> None:
        entry.error = problem
        self.problems.append(problem)

    def load_all(self) -> None:
        """Import every built-in check and list every plugin (`runbook checks`, hints)."""
        for entry in list(self.entries.values()):
            if entry.origin == "builtin" and entry.cls is None and entry.error is None:
                self._import_builtin(entry)
        self._list_plugins()

    def _list_plugins(self) -> None:
        if self._plugins_listed or not self.plugins:
            return
        self._plugins_listed = True
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self.entries:
                self.problems.append(f"plugin check {ep.name!r} shadows a built-in; ignored")
                continue
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            self.entries[ep.name] = CheckEntry(ep.name, f"plugin {dist}", ep.value)

    def ids(self) -> list[str]:
        """Every check id that loads (each built-in imported, the plugins listed)."""
        self.load_all()
        return sorted(i for i, entry in self.entries.items() if entry.error is None)

    def get(self, check_id: str) -> type[Check]:
        entry = self.entries.get(check_id)
        if entry is None:
            self._list_plugins()
            entry = self.entries.get(check_id)
        if entry is not None and entry.origin == "builtin" and entry.cls is None:
            if entry.error is None:
                self._import_builtin(entry)
            entry = self.entries.get(check_id)  # gone if the module holds no check
        if entry is None:
            raise UnknownCheckError(check_id)
        if entry.cls is None:
            if entry.error is not None:
                raise CheckLoadError(entry.error)
            try:
                obj = importlib.metadata.EntryPoint(
                    name=entry.id, value=entry.value, group=ENTRY_POINT_GROUP
                ).load()
                if not (inspect.isclass(obj) and issubclass(obj, Check)):
                    raise CheckLoadError(f"{entry.value} is not a Check subclass")
                _validate(obj, check_id)
            except Exception as exc:
                entry.error = f"plugin check {check_id!r} ({entry.value}) failed to load: {exc}"
                self.problems.append(entry.error)
                raise CheckLoadError(entry.error) from exc
            entry.cls = obj
        return entry.cls


def _validate(cls: type[Check], check_id: str) -> None:
    meta = getattr(cls, "meta", None)
    if meta is None:
        raise CheckLoadError(f"{check_id}: check class {cls.__name__} declares no `meta`")
    if meta.id != check_id:
        raise CheckLoadError(
            f"{check_id}: meta.id is {meta.id!r}; a check's id must equal its module path"
        )
