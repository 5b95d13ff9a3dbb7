"""Fact kinds as the API shows them: what each kind is (``factKinds``, for forms and tables) and one fact
of any kind (``Fact``: in ``facts(kind:)`` and in drill-down contributions)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from goalgraph.graphql.types.facts import Money, UserType
from goalgraph.registry import FactField, FactKind, FieldType

FactFieldType = strawberry.enum(FieldType, name="FactFieldType",
                                description="How a fact kind's field is written (see docs/facts.md, \"Fact kinds\").")


def camel_case(key: str) -> str:
    """``first_response_at`` → ``firstResponseAt`` (GraphQL's spelling of a field key)."""
    head, *rest = key.split("_")
    return head + "".join(w.capitalize() for w in rest)


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


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


@strawberry.type(name="FactValue", description="One field of a fact and its stored value.")
class FactValue:
    name: str = strawberry.field(description="The field's name (camelCase, as in FactFieldInfo.name).")
    value: JSON | None = strawberry.field(description="The value as JSON (timestamps and decimals as ISO / decimal "
                                                      "strings; references as the CRM's id).")


@strawberry.type(name="Fact", description="One fact of any kind, as every kind shows it: title, amount, time, the "
                                          "credited user and the kind's fields.")
class FactView:
    kind: strawberry.Private[FactKind]
    row: strawberry.Private[Any]
    #: REFERENCE fields' CRM ids, by field key (resolved by the caller in one query per kind).
    references: strawberry.Private[dict[str, str | None]]

    @strawberry.field(name="kind", description="The fact kind's key.")
    def kind_key(self) -> str:
        return self.kind.key

    @strawberry.field(description="The CRM's id of the fact.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    def _get(self, key: str | None) -> Any:
        spec = self.kind.field(key) if key is not None else None
        return None if spec is None else getattr(self.row, spec.attr)

    @strawberry.field(description="Its title, when the kind has one (a deal's title, a ticket's subject).")
    def title(self) -> str | None:
        value = self._get(self.kind.title)
        return None if value is None else str(value)

    @strawberry.field(description="Its amount in its own currency, when the kind has one.")
    def amount(self) -> Money | None:
        value, currency = self._get(self.kind.amount), self._get(self.kind.currency)
        return None if value is None or currency is None else Money(amount=value, currency=currency)

    @strawberry.field(description="The time that shows it (a deal's added time, a ticket's creation).")
    def occurred_at(self) -> str | None:
        value = self._get(self.kind.time)
        return None if value is None else value.isoformat()

    @strawberry.field(description="The CRM's timestamp of the version stored.")
    def updated_at(self) -> datetime:
        return self.row.source_updated_at

    @strawberry.field(description="The user the fact is credited to.")
    async def owner(self, info: Info) -> UserType | None:
        user = await info.context.loaders.user.load(self._get(self.kind.owner))
        return None if user is None else UserType(row=user)

    @strawberry.field(description="Every declared field with its value (an SPA builds a table from factKinds' fields).")
    def fields(self) -> list[FactValue]:
        out = []
        for spec in self.kind.fields:
            value = self.references.get(spec.key) if spec.type is FieldType.REFERENCE else _plain(getattr(self.row, spec.attr))
            out.append(FactValue(name=camel_case(spec.key), value=value))
        return out
