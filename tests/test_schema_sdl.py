"""The checked-in SDL is what the code exports, and the schema follows the conventions."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, GraphQLUnionType

from goalgraph.cli import main
from goalgraph.graphql.schema import build_schema, export_sdl

SDL_FILE = Path(__file__).parents[1] / "schema" / "schema.graphql"


def test_checked_in_sdl_matches_the_code() -> None:
    assert SDL_FILE.read_text() == export_sdl(), (
        "schema/schema.graphql is stale: run `goalgraph export-schema -o schema/schema.graphql`, "
        "review the diff as an API change and update docs/"
    )


def test_cli_prints_the_sdl() -> None:
    result = CliRunner().invoke(main, ["export-schema"])
    assert result.exit_code == 0
    assert result.output == export_sdl()


def test_every_type_and_field_is_documented_and_named_by_convention() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, gtype in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, (GraphQLObjectType, GraphQLInputObjectType)):
            for field_name, field in gtype.fields.items():
                assert field_name[0].islower() and "_" not in field_name, f"{name}.{field_name} is not camelCase"
                if not field.description:
                    missing.append(f"{name}.{field_name}")
        if isinstance(gtype, GraphQLEnumType):
            for value in gtype.values:
                assert value == value.upper(), f"{name}.{value} is not UPPER_CASE"
        if isinstance(gtype, GraphQLUnionType):
            assert gtype.description
    assert not missing, f"undocumented: {missing}"
