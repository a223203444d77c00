"""docs/cli.md documents every command the app has, with its options, and no planned one as real."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main

from scheduler.cli import app
from tests.conftest import REPO_ROOT

DOC = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def commands(group: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf command by its full name (``validate``, ``devices read``, ...).

    Typer ships its own copy of click, so groups are recognised by their ``commands`` mapping.
    """
    found: dict[str, Any] = {}
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):
            found |= commands(cmd, f"{prefix}{name} ")
        else:
            found[f"{prefix}{name}"] = cmd
    return found


COMMANDS = commands(typer.main.get_command(app))


def section(name: str) -> str:
    """The documentation of one command: from its heading to the next heading or the end."""
    match = re.search(
        rf"^#+ `energiemodell {re.escape(name)}[ `][^\n]*\n(.*?)(?=^#|\Z)", DOC, re.M | re.S
    )
    assert match, f"docs/cli.md has no heading for `energiemodell {name}`"
    return match.group(0)


def test_the_app_has_the_foundation_commands():
    assert {"validate", "optimise", "demo"} <= set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_and_option_is_documented(name):
    text = section(name)
    for param in COMMANDS[name].params:
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            longest = max(param.opts, key=len)
            assert longest in text, f"{name}: option {longest} is not in its section of docs/cli.md"


@pytest.mark.parametrize("name", ["validate", "optimise", "demo"])
def test_foundation_commands_document_their_exit_codes(name):
    text = section(name)
    assert "| exit | when |" in text
    assert "| 0 |" in text
    assert "| 2 |" in text


def test_planned_commands_are_not_registered_yet():
    """A "Planned" section, when the docs have one, names no command that exists."""
    if "## Planned, not yet available" not in DOC:
        return  # every planned command exists: the section was removed
    planned = DOC.split("## Planned, not yet available", 1)[1]
    names = set(re.findall(r"`energiemodell ([a-z]+)", planned))
    top_level = {name.split()[0] for name in COMMANDS}
    assert not names & top_level, (
        f"{sorted(names & top_level)} now exist: document them and remove them from 'Planned'"
    )
