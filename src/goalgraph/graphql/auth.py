"""Every root field needs an authenticated viewer (introspection aside)."""

from __future__ import annotations

import inspect
from typing import Any

from strawberry.extensions import SchemaExtension


class RequireViewer(SchemaExtension):
    """Authenticate before any top-level query or mutation field runs."""

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if info.path.prev is not None or info.field_name.startswith("__"):
            return _next(root, info, *args, **kwargs)
        return self._guarded(_next, root, info, *args, **kwargs)

    async def _guarded(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        await info.context.viewer()
        result = _next(root, info, *args, **kwargs)
        return await result if inspect.isawaitable(result) else result
