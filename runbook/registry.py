"""Finding checks: built-ins by walking the `checks` package, others by entry point.

Third-party checks (entry-point group `runbook.checks`, name = check id) are
listed without importing them and loaded when first used, so one broken
plugin is reported and never stops the others.
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

    @classmethod
    def discover(cls, *, plugins: bool = True) -> CheckRegistry:
        registry = cls()
        registry._walk_builtins()
        if plugins:
            registry._list_plugins()
        return registry

    def _walk_builtins(self) -> None:
        try:
            package = importlib.import_module(BUILTIN_PACKAGE)
        except ImportError as exc:
            self.problems.append(f"built-in checks package not importable: {exc}")
            return
        for info in pkgutil.walk_packages(package.__path__, BUILTIN_PACKAGE + "."):
            if info.ispkg:
                continue
            check_id = info.name.removeprefix(BUILTIN_PACKAGE + ".")
            try:
                module = importlib.import_module(info.name)
            except Exception as exc:  # a broken check is reported, never fatal
                self.problems.append(f"{info.name}: failed to import: {exc!r}")
                continue
            classes = [
                obj
                for obj in vars(module).values()
                if inspect.isclass(obj)
                and issubclass(obj, Check)
                and obj.__module__ == module.__name__
                and not inspect.isabstract(obj)
            ]
            if not classes:
                continue  # helpers shared by several checks
            if len(classes) > 1:
                self.problems.append(f"{info.name}: more than one check class in one module")
                continue
            try:
                _validate(classes[0], check_id)
            except CheckLoadError as exc:
                self.problems.append(str(exc))
                continue
            self.entries[check_id] = CheckEntry(check_id, "builtin", info.name, classes[0])

    def _list_plugins(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in self.entries:
                self.problems.append(f"plugin check {ep.name!r} shadows a built-in; ignored")
                continue
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            self.entries[ep.name] = CheckEntry(ep.name, f"plugin {dist}", ep.value)

    def ids(self) -> list[str]:
        return sorted(self.entries)

    def get(self, check_id: str) -> type[Check]:
        entry = self.entries.get(check_id)
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
