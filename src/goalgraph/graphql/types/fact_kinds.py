"""Fact kinds as the API shows them: what each kind is (``factKinds``, for forms and tables) and one fact
of any kind (``Fact``: in ``facts(kind:)`` and in drill-down contributions)."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from goalgraph.graphql.types.facts import ActivityType, DealType, Fact, camel_case
from goalgraph.registry import FactField, FactKind, FieldType

FactFieldType = strawberry.enum(FieldType, name="FactFieldType",
                                description="How a fact kind's field is written (see docs/facts.md, \"Fact kinds\").")


@strawberry.type(name="FactFieldInfo", description="One field of a fact kind: enough to build a form input or a "
                                                    "table column for it.")
class FactFieldInfo:
    spec: strawberry.Private[FactField]

    @strawberry.field(description="The field's key as records in GraphQL carry it (camelCase).")
    def name(self) -> str:
        return camel_case(self.spec.key)

    @strawberry.field(description="The field's key in import files (snake_case).")
    def key(self) -> str:
        return self.spec.key

    @strawberry.field(description="Label for people.")
    def label(self) -> str:
        return self.spec.label

    @strawberry.field(description="How the value is written.")
    def type(self) -> FactFieldType:  # type: ignore[valid-type]
        return self.spec.type

    @strawberry.field(description="Whether a record must carry it.")
    def required(self) -> bool:
        return self.spec.required

    @strawberry.field(description="CHOICE fields: the allowed values.")
    def choices(self) -> list[str]:
        return list(self.spec.choices)

    @strawberry.field(description="REFERENCE fields: what the CRM id names (user, team, pipeline, stage or a fact kind).")
    def references(self) -> str | None:
        return self.spec.references

    @strawberry.field(description="What the field means.")
    def description(self) -> str:
        return self.spec.description


@strawberry.type(name="FactKindInfo", description="A kind of fact goalgraph stores (deals, activities and the kinds "
                                                  "plugins add, such as tickets): its fields and how one is shown.")
class FactKindInfo:
    kind: strawberry.Private[FactKind]
    plugin: str = strawberry.field(description="The plugin that registered it.")

    @strawberry.field(description="The kind's key (`ingestFacts(input: {facts: [{kind: …}]})`, `facts(kind: …)`).")
    def key(self) -> str:
        return self.kind.key

    @strawberry.field(description="Label for people.")
    def label(self) -> str:
        return self.kind.label

    @strawberry.field(description="The batch key (import files, error paths), e.g. tickets.")
    def plural(self) -> str:
        return self.kind.plural

    @strawberry.field(description="What a fact of this kind is.")
    def description(self) -> str:
        return self.kind.description

    @strawberry.field(description="Licence feature needed to write facts of this kind; null when none.")
    def feature(self) -> str | None:
        return self.kind.feature

    @strawberry.field(description="The fields a record carries besides `id` and `updatedAt` (the version).")
    def fields(self) -> list[FactFieldInfo]:
        return [FactFieldInfo(spec=f) for f in self.kind.fields]

    @strawberry.field(description="The field naming the credited user (who may see the fact, whose goals it moves).")
    def owner_field(self) -> str:
        return camel_case(self.kind.owner)

    @strawberry.field(description="The fields that can place a fact in a period.")
    def timestamp_fields(self) -> list[str]:
        return [camel_case(t) for t in self.kind.timestamps]


@strawberry.type(name="FactRecord", description="A fact of a kind a plugin adds (a ticket, a quote …): the fields "
                                                "every fact has (Fact) and its kind's declared fields.")
class FactRecord(Fact):
    row: strawberry.Private[Any]
    kind_of: strawberry.Private[FactKind]

    def declared(self, info: Info) -> FactKind:
        return self.kind_of


def fact_node(kind: FactKind, row: Any) -> Fact:
    """A stored fact as its GraphQL type: Deal and Activity for theirs, FactRecord for plugins' kinds."""
    if kind.key == FactKind.DEAL:
        return DealType(row=row)
    if kind.key == FactKind.ACTIVITY:
        return ActivityType(row=row)
    return FactRecord(row=row, kind_of=kind)
