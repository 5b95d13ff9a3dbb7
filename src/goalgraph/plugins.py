"""The plugin manager: discovers plugins through the ``goalgraph`` entry-point group.

First-party plugins (``plugins/`` in the repository) register through the same group a
third party uses. Each entry point is loaded on its own: one that fails to import, that
implements an unknown hook, or whose registration hook raises, is reported by name and
skipped — or stops start-up in strict mode (``GOALGRAPH_STRICT_PLUGINS=1``, and in CI).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from goalgraph import hookspecs
from goalgraph.registry import DuplicateKeyError, Registry

ENTRY_POINT_GROUP = "goalgraph"
log = logging.getLogger(__name__)


class PluginError(RuntimeError):
    """A plugin could not be loaded (strict mode) or conflicts with another."""


@dataclass
class PluginInfo:
    """One loaded plugin and what it registered."""

    name: str
    version: str
    module: str
    goal_types: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    dimensions: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    fact_kinds: list[str] = field(default_factory=list)


@dataclass
class Plugins:
    """The plugin manager, the registry built from it, and the load report."""

    manager: pluggy.PluginManager
    registry: Registry
    loaded: list[PluginInfo]
    failed: list[tuple[str, str]]


def _core_version() -> str:
    from goalgraph import __version__

    return __version__


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _fail(name: str, problem: str, strict: bool, failed: list[tuple[str, str]]) -> None:
    message = f"plugin {name!r} {problem}"
    if strict:
        raise PluginError(message + " (strict mode: GOALGRAPH_STRICT_PLUGINS)")
    log.error("%s; skipped", message)
    failed.append((name, problem))


def _register(pm: pluggy.PluginManager, name: str, plugin: Any, strict: bool, failed: list[tuple[str, str]]) -> bool:
    try:
        pm.register(plugin, name=name)
        pm.check_pending()
    except Exception as exc:  # noqa: BLE001 - reported per plugin
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        _fail(name, f"has invalid hook implementations: {exc}", strict, failed)
        return False
    return True


def _collect(pm: pluggy.PluginManager, name: str, plugin: Any, registry: Registry, info: PluginInfo) -> None:
    """Run one plugin's registration hooks into ``registry`` (duplicates raise)."""
    calls = (
        ("goalgraph_register_goal_types", registry.add_goal_type, info.goal_types),
        ("goalgraph_register_features", registry.add_feature, info.features),
        ("goalgraph_register_dimensions", registry.add_dimension, info.dimensions),
        ("goalgraph_register_goal_templates", registry.add_template, info.templates),
        ("goalgraph_register_fact_kinds", registry.add_fact_kind, info.fact_kinds),
    )
    for hook_name, add, keys in calls:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name != name:
                continue
            for item in impl.function() or ():
                add(item, name)
                keys.append(item.key)


def load_plugins(
    *, strict: bool = False, entry_points_: Iterable[EntryPoint] | None = None, extra: Sequence[tuple[str, Any]] = ()
) -> Plugins:
    """Discover, register and collect every plugin.

    ``extra`` adds (name, plugin object) pairs after the entry points — tests use it to
    register a plugin for one test. Duplicate keys always stop start-up.
    """
    pm = _new_manager()
    registry = Registry()
    loaded: list[PluginInfo] = []
    failed: list[tuple[str, str]] = []
    candidates: list[tuple[str, Any, str, str]] = []
    eps = entry_points(group=ENTRY_POINT_GROUP) if entry_points_ is None else entry_points_
    for ep in sorted(eps, key=lambda e: e.name):
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the service down
            _fail(ep.name, f"({ep.value}) failed to import: {type(exc).__name__}: {exc}", strict, failed)
            continue
        version = ep.dist.version if ep.dist is not None else "?"
        candidates.append((ep.name, plugin, version, ep.value))
    from goalgraph import features  # the core registers its features through the same hook

    candidates.insert(0, ("core", features, _core_version(), "goalgraph.features"))
    for name, plugin in extra:
        candidates.append((name, plugin, getattr(plugin, "__version__", "?"), getattr(plugin, "__name__", repr(plugin))))

    for name, plugin, version, module in candidates:
        if not _register(pm, name, plugin, strict, failed):
            continue
        info = PluginInfo(name=name, version=version, module=module)
        staged = Registry(
            goal_types=dict(registry.goal_types), features=dict(registry.features),
            dimensions=dict(registry.dimensions), templates=dict(registry.templates),
            fact_kinds=dict(registry.fact_kinds), owners=dict(registry.owners),
        )
        try:
            _collect(pm, name, plugin, staged, info)
        except DuplicateKeyError as exc:
            raise PluginError(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001
            pm.unregister(plugin)
            _fail(name, f"failed while registering: {type(exc).__name__}: {exc}", strict, failed)
            continue
        registry = staged
        loaded.append(info)
    try:
        registry.check()
    except ValueError as exc:
        raise PluginError(str(exc)) from exc
    return Plugins(manager=pm, registry=registry, loaded=loaded, failed=failed)
