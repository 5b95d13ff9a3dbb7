"""Every hook in hookspecs.py is documented in docs/plugins/hooks.md, with a docstring and an example."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from goalgraph import hookspecs

DOC = Path(__file__).parents[1] / "docs" / "plugins" / "hooks.md"


def _hooks() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("goalgraph_") and hasattr(fn, "goalgraph_spec")]


def test_every_hook_has_a_section_with_an_example() -> None:
    text = DOC.read_text()
    sections = dict(re.findall(r"^## (goalgraph_\w+)\n(.*?)(?=^## |\Z)", text, flags=re.S | re.M))
    hooks = _hooks()
    assert len(hooks) >= 5
    missing = [h for h in hooks if h not in sections]
    assert not missing, f"hooks missing from {DOC.name}: {missing}"
    for hook in hooks:
        assert sections[hook].count("```python") >= 2, f"{hook}: needs its signature and an example"
        assert "**When:**" in sections[hook]
    assert not set(sections) - set(hooks), "documented hooks that do not exist"


def test_hooks_follow_the_naming_rule_and_have_docstrings() -> None:
    for name in _hooks():
        fn = getattr(hookspecs, name)
        assert re.fullmatch(r"goalgraph_[a-z]+_[a-z_]+", name)
        doc = inspect.getdoc(fn) or ""
        assert "Called" in doc or "called" in doc, f"{name}: docstring must say when it is called"
