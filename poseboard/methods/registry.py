"""Method registry: one table from name to ``"module:Class"``, imported on first use.

Built-in methods are listed in :data:`BUILTIN_METHODS`, methods added to this checkout by
``poseboard new-method`` in ``poseboard/methods/added.py``; external packages add theirs
through the ``poseboard.methods`` entry-point group (``name = "pkg.module:Class"``).
Listing names imports nothing heavy, so ``poseboard --help`` stays fast.
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from poseboard.errors import PoseboardError

if TYPE_CHECKING:
    from poseboard.methods.base import Method

ENTRY_POINT_GROUP = "poseboard.methods"

#: name → "module:Class" of the methods shipped with poseboard.
BUILTIN_METHODS: dict[str, str] = {
    "ransac": "poseboard.methods.ransac:RansacMethod",
    "algebraic": "poseboard.methods.algebraic:AlgebraicMethod",
    "volumetric": "poseboard.methods.volumetric:VolumetricMethod",
    "probabilistic": "poseboard.methods.probabilistic:ProbabilisticMethod",
    "epipolar": "poseboard.methods.epipolar:EpipolarMethod",
    "rootnet": "poseboard.methods.rootnet:RootNetMethod",
    "rootnet-k-only": "poseboard.methods.rootnet_k_only:RootNetKOnlyMethod",
}


class RegistryError(PoseboardError, LookupError):
    """An unknown, duplicate or broken method name."""


class MethodRegistry:
    """Name → lazily imported :class:`Method` subclass."""

    def __init__(self, builtins: dict[str, str] | None = None, discover_entry_points: bool = True) -> None:
        self._targets: dict[str, str] = {}
        self._origin: dict[str, str] = {}
        self._loaded: dict[str, type[Method]] = {}
        for name, target in (builtins or {}).items():
            self.register(name, target, origin="built-in")
        self._discover = discover_entry_points
        self._discovered = False

    def _discover_entry_points(self) -> None:
        if self._discovered or not self._discover:
            return
        self._discovered = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            self.register(ep.name, ep.value, origin=f"entry point of {dist}")

    def register(self, name: str, target: str | type[Method], origin: str = "register()") -> None:
        """Register ``name`` → ``"module:Class"`` (or a class); a duplicate name is an error."""
        if not name or name != name.strip() or name.lower() != name:
            raise RegistryError(f"method name {name!r} must be non-empty lower-case without spaces")
        if name in self._targets or name in self._loaded:
            raise RegistryError(
                f"method {name!r} is registered twice ({self._origin[name]} and {origin})"
            )
        self._origin[name] = origin
        if isinstance(target, str):
            if ":" not in target:
                raise RegistryError(f"method {name!r}: target {target!r} must look like 'module:Class'")
            self._targets[name] = target
        else:
            self._check_class(name, target)
            self._targets[name] = f"{target.__module__}:{target.__qualname__}"
            self._loaded[name] = target

    def names(self) -> list[str]:
        self._discover_entry_points()
        return sorted(self._targets)

    def target(self, name: str) -> str:
        self._discover_entry_points()
        self._require(name)
        return self._targets[name]

    def get(self, name: str) -> type[Method]:
        """The method class registered as ``name`` (imported now if it was not yet)."""
        self._discover_entry_points()
        self._require(name)
        if name not in self._loaded:
            module_name, _, attr = self._targets[name].partition(":")
            try:
                obj = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise RegistryError(
                    f"method {name!r} ({self._origin[name]}) points to {self._targets[name]!r}, "
                    f"which cannot be imported: {exc}"
                ) from exc
            self._check_class(name, obj)
            self._loaded[name] = obj
        return self._loaded[name]

    def _require(self, name: str) -> None:
        if name not in self._targets:
            close = difflib.get_close_matches(name, self._targets, n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            known = ", ".join(sorted(self._targets)) or "(none)"
            raise RegistryError(f"unknown method {name!r}{hint} Known methods: {known}")

    @staticmethod
    def _check_class(name: str, obj: object) -> None:
        from poseboard.methods.base import Method

        if not (isinstance(obj, type) and issubclass(obj, Method)):
            raise RegistryError(f"method {name!r}: {obj!r} is not a subclass of poseboard Method")
        if getattr(obj, "name", None) != name:
            raise RegistryError(f"method {name!r}: the class declares name {getattr(obj, 'name', None)!r}")


def _with_added(registry: MethodRegistry) -> MethodRegistry:
    from poseboard.methods.added import ADDED_METHODS

    for name, target in ADDED_METHODS.items():
        registry.register(name, target, origin="added by poseboard new-method (poseboard/methods/added.py)")
    return registry


def is_builtin(name: str) -> bool:
    """Whether ``name`` is one of the methods shipped with poseboard (:data:`BUILTIN_METHODS`)."""
    return name in BUILTIN_METHODS


#: The process-wide registry used by the CLI and the pipeline: the built-in methods, those
#: added with ``poseboard new-method`` (``poseboard/methods/added.py``) and entry points.
REGISTRY = _with_added(MethodRegistry(BUILTIN_METHODS))


def get_method(name: str) -> type[Method]:
    return REGISTRY.get(name)


def method_names() -> list[str]:
    return REGISTRY.names()
