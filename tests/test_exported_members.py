"""The public surface of each part is its ``__all__``, so it cannot drift silently (after httpx's
tests/test_exported_members.py): every public name a package holds is exported, in the order ruff keeps
(constants, classes, then the rest), and every exported name resolves, those loaded on first use too."""

from __future__ import annotations

from types import ModuleType

import pytest

import viscodex.agent
import viscodex.agent.syntax
import viscodex.model
import viscodex.sandbox


def isort_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then anything else."""
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


def public_names(package: ModuleType) -> set[str]:
    """What the package holds that a user sees: no private names, no submodules; names its module
    ``__getattr__`` loads on first use count once they resolve."""
    held = {name for name, value in vars(package).items() if not isinstance(value, ModuleType)}
    lazy = {name for name in package.__all__ if name not in held and hasattr(package, name)}
    return {name for name in held | lazy if not name.startswith("_")}


@pytest.mark.parametrize(
    "package",
    [viscodex.agent, viscodex.agent.syntax, viscodex.model, viscodex.sandbox],
    ids=lambda package: package.__name__,
)
def test_all_imports_are_exported(package: ModuleType) -> None:
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert package.__all__ == sorted(public_names(package), key=isort_order)


def test_the_agent_exports_its_api() -> None:
    """What the language server, the benches and Python callers import (written out: a contract)."""
    api = {
        "solve",
        "solve_sync",
        "Loop",
        "SolveRequest",
        "SolveResult",
        "Attempt",
        "Kind",
        "KINDS",
        "Event",
        "Emit",
        "parse_event",
        "Started",
        "Candidate",
        "ParseError",
        "SandboxResult",
        "Score",
        "Done",
        "Failed",
        "ExitCode",
        "describe_failure",
        "run_app",
    }
    assert api <= set(viscodex.agent.__all__)
    assert not hasattr(viscodex.agent, "no_such_name")
    assert set(viscodex.agent.__all__) <= set(dir(viscodex.agent))


def test_the_sandbox_keeps_its_language_names() -> None:
    assert {"LANGUAGES", "Language", "language_for_path", "LANGUAGE_SPECS", "language_spec"} <= set(
        viscodex.sandbox.__all__
    )
