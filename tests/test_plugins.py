"""Plugin discovery: bundled plugins via entry points, broken and conflicting plugins."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from goalgraph.cli import main
from goalgraph.hookspecs import hookimpl
from goalgraph.plugins import ENTRY_POINT_GROUP, PluginError, load_plugins
from goalgraph.registry import Category, FactKind, Feature, GoalType

FIRST_PARTY = {"DEALS_ADDED", "DEALS_PROGRESSED", "DEALS_WON", "ACTIVITIES_ADDED", "ACTIVITIES_COMPLETED",
               "REVENUE_FORECAST"}


def _module(tmp_path: Path, name: str, body: str) -> EntryPoint:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    sys.modules.pop(name, None)
    return EntryPoint(name=name, value=name, group=ENTRY_POINT_GROUP)


def _bundled() -> list[EntryPoint]:
    from importlib.metadata import entry_points

    return list(entry_points(group=ENTRY_POINT_GROUP))


def test_first_party_plugins_load_through_entry_points() -> None:
    plugins = load_plugins(strict=True)
    assert {p.name for p in plugins.loaded} >= {"deals", "activities", "forecast"}
    assert FIRST_PARTY <= set(plugins.registry.goal_types)
    assert plugins.registry.goal_types["REVENUE_FORECAST"].feature == "REVENUE_FORECAST"
    assert plugins.registry.owners[("goal type", "DEALS_WON")] == "deals"
    assert all(p.version == "0.1.0" for p in plugins.loaded if p.name in {"deals", "activities", "forecast"})


def test_broken_plugin_is_reported_by_name_and_skipped(tmp_path: Path) -> None:
    broken = _module(tmp_path, "gg_broken_import", "raise ImportError('missing dependency frobnicate')\n")
    plugins = load_plugins(strict=False, entry_points_=[*_bundled(), broken])
    assert plugins.failed == [("gg_broken_import", "(gg_broken_import) failed to import: ImportError: missing dependency frobnicate")]
    assert FIRST_PARTY <= set(plugins.registry.goal_types)
    with pytest.raises(PluginError, match="plugin 'gg_broken_import'.*failed to import.*strict"):
        load_plugins(strict=True, entry_points_=[*_bundled(), broken])


def test_unknown_hook_implementation_fails(tmp_path: Path) -> None:
    typo = _module(tmp_path, "gg_typo", """
        from goalgraph.hookspecs import hookimpl

        @hookimpl
        def goalgraph_register_goal_typez():
            return []
    """)
    plugins = load_plugins(strict=False, entry_points_=[typo])
    assert plugins.failed[0][0] == "gg_typo"
    assert "goalgraph_register_goal_typez" in plugins.failed[0][1]
    with pytest.raises(PluginError, match="gg_typo.*invalid hook"):
        load_plugins(strict=True, entry_points_=[typo])


def test_registration_hook_that_raises_or_returns_garbage(tmp_path: Path) -> None:
    bad = _module(tmp_path, "gg_garbage", """
        from goalgraph.hookspecs import hookimpl

        @hookimpl
        def goalgraph_register_goal_types():
            return ["not a goal type"]
    """)
    plugins = load_plugins(strict=False, entry_points_=[*_bundled(), bad])
    assert plugins.failed[0][0] == "gg_garbage" and "expected GoalType" in plugins.failed[0][1]
    assert FIRST_PARTY <= set(plugins.registry.goal_types)


class _Duplicate:
    @hookimpl
    def goalgraph_register_goal_types(self) -> list[GoalType]:
        return [GoalType(key="DEALS_WON", label="Mine", category=Category.CUSTOM, description="clash",
                         source=lambda q: None, fact_kind=FactKind.CUSTOM)]  # type: ignore[arg-type,return-value]


class _DuplicateFeature:
    @hookimpl
    def goalgraph_register_features(self) -> list[Feature]:
        return [Feature("REVENUE_FORECAST", "again")]


@pytest.mark.parametrize(("plugin", "what"), [(_Duplicate(), "goal type key 'DEALS_WON'"),
                                              (_DuplicateFeature(), "feature key 'REVENUE_FORECAST'")])
def test_duplicate_keys_fail_naming_both_plugins(plugin: object, what: str) -> None:
    with pytest.raises(PluginError, match=f"{what} is registered twice: by plugin '(deals|forecast)' and by plugin 'clasher'"):
        load_plugins(strict=False, extra=[("clasher", plugin)])


def test_goal_type_needing_an_unregistered_feature_fails() -> None:
    class NeedsFeature:
        @hookimpl
        def goalgraph_register_goal_types(self) -> list[GoalType]:
            return [GoalType(key="X", label="X", category=Category.CUSTOM, description="x", source=lambda q: None,  # type: ignore[arg-type,return-value]
                             fact_kind=FactKind.CUSTOM, feature="NOPE")]

    with pytest.raises(PluginError, match="needs feature 'NOPE'"):
        load_plugins(extra=[("needy", NeedsFeature())])


def test_plugins_command_lists_plugins() -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "deals 0.1.0 (goalgraph_deals)" in result.output
    assert "goal type DEALS_WON: Deals won — measures COUNT, VALUE, GROSS_PROFIT" in result.output
    assert "feature REVENUE_FORECAST" in result.output


def test_dimensions_are_registered_with_their_plugin() -> None:
    from goalgraph.registry import Dimension

    class Dims:
        @hookimpl
        def goalgraph_register_dimensions(self) -> list[Dimension]:
            return [Dimension("SALE_TYPE", "Sale type", attribute="sale_type", elements=("New business", "Upsell"))]

    plugins = load_plugins(strict=True, extra=[("dims", Dims())])
    assert plugins.registry.dimensions["SALE_TYPE"].attribute == "sale_type"
    assert next(p for p in plugins.loaded if p.name == "dims").dimensions == ["SALE_TYPE"]
    with pytest.raises(PluginError, match="dimension key 'SALE_TYPE' is registered twice"):
        load_plugins(extra=[("dims", Dims()), ("dims2", Dims())])
