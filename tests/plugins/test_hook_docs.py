"""Meta-tests: every hook is documented in docs/plugins.md, tested, and has an example plugin.

A new hook in ``ClaimferrySpecs`` fails here until it has all three
(in the manner of datasette's tests/test_docs.py).
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from claimferry import hookspecs
from claimferry.manager import ALLOW_ENV, BLOCK_ENV, TRACE_ENV

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "plugins.md"
TESTS = REPO / "tests"

HOOKS = sorted(name for name in dir(hookspecs.ClaimferrySpecs) if name.startswith("claimferry_"))


def _sections(text: str) -> dict[str, str]:
    """Each ``### `hook` `` section's text, up to the next heading of level 2 or 3."""
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.MULTILINE)
    sections: dict[str, str] = {}
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        found = re.fullmatch(r"### `(claimferry_\w+)`", heading.strip())
        if found:
            sections[found.group(1)] = body
    return sections


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 6


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_section_in_the_guide(hook: str) -> None:
    section = _sections(GUIDE.read_text(encoding="utf-8")).get(hook)
    assert section is not None, f"docs/plugins.md has no '### `{hook}`' section"
    assert f"def {hook}()" in section, f"the {hook} section does not show its signature"
    assert f'```python title="example: {hook}"' in section, (
        f"the {hook} section has no runnable example"
    )


def test_guide_documents_no_hook_that_does_not_exist() -> None:
    assert sorted(_sections(GUIDE.read_text(encoding="utf-8"))) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_has_an_example_plugin(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs.ClaimferrySpecs, hook)) or ""
    assert "Example plugin::" in doc, f"{hook}'s docstring has no 'Example plugin::'"
    example = doc.split("Example plugin::", 1)[1]
    assert "@hookimpl" in example
    assert f"def {hook}():" in example


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook: str) -> None:
    users = [
        path.relative_to(TESTS)
        for path in TESTS.rglob("test_*.py")
        if path.resolve() != Path(__file__).resolve() and hook in path.read_text(encoding="utf-8")
    ]
    assert users, f"no test under tests/ mentions {hook}"


def test_guide_documents_the_switches() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for variable in (BLOCK_ENV, ALLOW_ENV, TRACE_ENV):
        assert f"`{variable}=" in text, f"docs/plugins.md does not explain {variable}"
