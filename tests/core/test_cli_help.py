"""Every command's --help is complete: each option says what it does, and the help
ends with examples that click itself accepts (so an example cannot name an option,
a choice or a command that is gone)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
import pytest

from claimferry.cli import create_cli
from claimferry.cli.app import ClaimferryGroup
from claimferry.manager import PluginManager


def _commands(group: click.Group) -> Iterator[tuple[str, click.Command]]:
    """``(path, command)`` for the group and everything under it, the installed
    plugins' commands included."""

    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[str, click.Command]]:
        yield " ".join(["claimferry", *path]), command
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, [*path, name])

    yield from walk(group, [])


CLI = create_cli(PluginManager().load())
assert isinstance(CLI, ClaimferryGroup)
CLI.load_all()  # the listed commands, imported as when they run
COMMANDS = dict(_commands(CLI))


def _help(path: str) -> str:
    """The help as ``claimferry ... --help`` prints it: in a context under the root's,
    whose settings (``-h``) it inherits. A context of its own would leave click's
    cached help option without ``-h`` for every later test."""
    root = click.Context(CLI, info_name="claimferry", **CLI.context_settings)
    command = COMMANDS[path]
    return command.get_help(click.Context(command, info_name=path, parent=root))


def _examples(path: str) -> list[str]:
    """The lines under the help's closing "Examples:" heading."""
    text = _help(path)
    *_, tail = re.split(r"^\s*Examples:$", text, flags=re.MULTILINE)
    assert tail != text, f"`{path} --help` has no Examples section:\n{text}"
    return [line.strip() for line in tail.splitlines() if line.strip()]


def accepts(argv: list[str]) -> click.Context:
    """Parse a command line as claimferry would, without running it; the context
    of the command it reaches. Raises click's usage errors for what it refuses."""
    command: click.Command = CLI
    name = "claimferry"
    rest = list(argv)
    parent: click.Context | None = None
    while isinstance(command, click.Group):
        # a group's own options (--config FILE, -v) come before its subcommand
        split = next((i for i, token in enumerate(rest) if token in command.commands), None)
        assert split is not None, f"no subcommand of {name} in {argv}"
        parent = command.make_context(name, rest[: split + 1], parent=parent)
        name, command, rest = rest[split], command.commands[rest[split]], rest[split + 1 :]
    return command.make_context(name, rest, parent=parent)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_option_has_help(path: str) -> None:
    command = COMMANDS[path]
    silent = [
        option.opts[0]
        for option in command.params
        if isinstance(option, click.Option) and not (option.help and option.help.strip())
    ]
    assert silent == [], f"{path}: options without help text"


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_help_ends_with_examples_click_accepts(path: str) -> None:
    found = _examples(path)
    assert 1 <= len(found) <= 2, found
    text = _help(path)
    assert text.rstrip().endswith(found[-1]), "the examples close the help"
    for example in found:
        argv = shlex.split(example)
        assert argv[0] == "claimferry"
        ctx = accepts(argv[1:])
        words = path.split()[1:]
        if words and not isinstance(COMMANDS[path], click.Group):
            assert ctx.command is COMMANDS[path], f"{example!r} is not an example of {path}"


def test_parsing_refuses_what_click_refuses() -> None:
    """The check above has teeth: a gone option or a bad choice fails it."""
    with pytest.raises(click.NoSuchOption):
        accepts(["status", "--no-such-option"])
    with pytest.raises(click.BadParameter):
        accepts(["batches", "list", "--state", "lost"])
    with pytest.raises(click.MissingParameter):
        accepts(["build", "claims.yaml", "-o", "out.837"])


def test_choices_read_as_users_type_them() -> None:
    """Transactions as the X12 world writes them: 837P, not 837p."""
    assert "837P|835" in _help("claimferry enrollment set")
    assert "837P|835" in _help("claimferry enrollment list")
    assert "--transaction 837P|835|270|276|..." in _help("claimferry payers search")
