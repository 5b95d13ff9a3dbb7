"""Relay-style cursor connections over an ordered SQL query (keyset pagination)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import Select, func, select

from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.inputs import parse_cursor_key

T = TypeVar("T")


@strawberry.type(description="Where a page stands in the whole list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page (an `after` cursor was given).")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item; pass it as `after` for the next page.")


@strawberry.type(description="An item of a page with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of a long list.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page, with cursors.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    #: The whole list's size when known; else ``count`` answers it, only when a client asks.
    total: strawberry.Private[int | None] = None
    count: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description="How many items the whole list has (all pages).")
    async def total_count(self) -> int:
        if self.total is None:
            assert self.count is not None, "a Connection needs its total or a way to count it"
            self.total = await self.count()
        return self.total

    @strawberry.field(description="The items of this page without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def encode_cursor(kind: str, key: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode()


def decode_cursor(kind: str, cursor: str) -> int:
    """The key inside a cursor of list ``kind``; BAD_USER_INPUT for anything else (the input rules)."""
    try:
        if len(cursor) > 100:
            raise ValueError
        prefix, key = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii").split(":", 1)
        if prefix != kind:
            raise ValueError
        return parse_cursor_key(key)
    except (ValueError, UnicodeError):  # binascii.Error and InputRefused are ValueErrors
        shown = cursor if len(cursor) <= 100 else cursor[:40] + "…"
        raise query_error(f"after: {shown!r} is not a cursor of this list", ErrorCode.BAD_USER_INPUT) from None


def check_page_size(first: int, max_page_size: int) -> None:
    if not 0 <= first <= max_page_size:
        raise query_error(f"first: {first} is outside 0–{max_page_size} (the page size cap)", ErrorCode.BAD_USER_INPUT)


async def paginate(
    db: Callable[[], AbstractAsyncContextManager[Any]], query: Select[Any], key: Any, kind: str, *, first: int,
    after: str | None, max_page_size: int, convert: Any,
) -> Connection[Any]:
    """Page through ``query`` ordered by the integer column ``key`` (ascending), reading in sessions of
    ``db`` (the request's); the whole list is counted only when the client asks for ``totalCount``."""
    check_page_size(first, max_page_size)
    paged = query
    if after is not None:
        paged = paged.where(key > decode_cursor(kind, after))
    async with db() as session:
        rows = (await session.scalars(paged.order_by(key).limit(first + 1))).all()

    async def count() -> int:
        async with db() as session:
            return (await session.execute(
                select(func.count()).select_from(query.order_by(None).subquery()))).scalar_one()

    has_next = len(rows) > first
    rows = rows[:first]
    edges = [Edge(cursor=encode_cursor(kind, row.id), node=convert(row)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count=count,
    )
