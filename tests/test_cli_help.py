"""`smgov --help` reads as a user's manual (issue 22): every option and argument of every command
says what it is and what it accepts, every command shows an example, no Python type tag
(`<str>`, `<list[str]>`) appears, the commands come in the order a user meets them, and
`smgov --version` answers; a command line builds only the command it names, the same one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click import Command, Context  # typer 0.29 vendors click
from typer.core import TyperGroup as Group
from typer.testing import CliRunner

from smgov.cli import COMMANDS, app, assemble

TYPE_TAG = re.compile(r"<[a-z_]+(\[[^\]]*\])?>")


def commands() -> Iterator[tuple[list[str], Command]]:
    """Every command and group of `smgov`, with the words that reach it."""
    todo: list[tuple[list[str], Command]] = [([], typer.main.get_command(app))]
    while todo:
        path, command = todo.pop(0)
        yield path, command
        if isinstance(command, Group):
            todo.extend(([*path, name], command.commands[name]) for name in command.commands)


def leaves() -> list[tuple[list[str], Command]]:
    return [(path, c) for path, c in commands() if not isinstance(c, Group)]


def rendered_help(path: list[str]) -> str:
    """`smgov PATH --help` as a user sees it, the panels' frames and line breaks made spaces."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="smgov", terminal_width=100)
    assert result.exit_code == 0, result.output
    return " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())


class TestManual:
    def test_every_option_and_argument_says_what_it_is(self) -> None:
        """No option or argument of any command (nor of a group) is left without a help text."""
        bare = [
            f"smgov {' '.join(path)} {param.name}"
            for path, command in commands()
            for param in command.get_params(Context(command))
            if not getattr(param, "help", None)
        ]
        assert bare == []

    def test_every_command_shows_an_example(self) -> None:
        """Each command's help ends with an example: a whole `smgov` command line reaching it."""
        lacking = [
            " ".join(path)
            for path, command in leaves()
            if not (command.epilog or "").startswith(f"Example: smgov {' '.join(path)}")
        ]
        assert lacking == []

    def test_no_python_type_tags(self) -> None:
        """The rendered --help of every command and group shows metavars (CODE, DATE, INDEX),
        never Typer's type tags such as <str>, <int> or <list[str]>."""
        tagged = {
            " ".join(path) or "smgov": TYPE_TAG.findall(text)
            for path, _ in commands()
            if TYPE_TAG.search(text := rendered_help(path))
        }
        assert tagged == {}

    def test_the_tag_check_sees_a_tag(self) -> None:
        """The check above would find a tag: Typer's own rendering of a bare option shows one."""
        bare = typer.Typer()

        @bare.command()
        def hello(name: str = "x") -> None:
            """Say hello."""

        output = CliRunner().invoke(bare, ["--help"], terminal_width=100).output
        assert TYPE_TAG.search(output)

    def test_commands_in_the_order_a_user_meets_them(self) -> None:
        """Try it, set it up, fill the registry, approve and review accounts, follow the duties,
        handle people leaving and incidents, check and report, run it."""
        root = typer.main.get_command(app)
        assert isinstance(root, Group)
        listed = root.list_commands(Context(root))
        assert listed == [
            "demo",
            "doctor",
            "notify",
            "db",
            "entity",
            "staff",
            "account",
            "authorize",
            "acknowledge",
            "request",
            "survey",
            "campaign",
            "assessment",
            "assess",
            "activity",
            "obligation",
            "sweep",
            "outbox",
            "hr",
            "custody",
            "incident",
            "audit",
            "report",
            "clauses",
            "serve",
            "api",
        ]
        shown = rendered_help([])
        assert [shown.index(f" {name} ") for name in listed] == sorted(
            shown.index(f" {name} ") for name in listed
        )

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            (["entity", "add"], "department, office, office-away-from-headquarters"),
            (["entity", "add"], "YYYY-MM-DD"),
            (["account", "register"], "x, facebook, instagram"),
            (["staff", "add"], "ar, zh, en, fr, ru or es"),
            (["authorize"], "(3.7)"),
        ],
    )
    def test_values_and_clauses_are_spelled_out(self, path: list[str], expected: str) -> None:
        """Options list the values they accept, dates say their format, and the help keeps its
        clause citations."""
        assert expected in rendered_help(path)


class TestVersion:
    def test_version_from_the_installed_entry_point(self) -> None:
        """`smgov --version` (the console script pip installed) prints `smgov <version>`, exit 0."""
        script = shutil.which("smgov", path=str(Path(sys.executable).parent))
        assert script is not None, "the smgov console script is not installed beside python"
        proc = subprocess.run(
            [script, "--version"], capture_output=True, text=True, check=False, timeout=60
        )
        assert (proc.returncode, proc.stdout, proc.stderr) == (
            0,
            f"smgov {version('smgov')}\n",
            "",
        )


def shape(command: Command) -> Any:
    """What a user sees of a command: its help, example and parameters, and its subcommands'."""
    return (
        command.help,
        command.epilog,
        [(p.name, p.opts, getattr(p, "help", None)) for p in command.params],
        {name: shape(sub) for name, sub in getattr(command, "commands", {}).items()},
    )


class TestOneCommandBuilt:
    def test_the_table_names_every_command(self) -> None:
        """COMMANDS, which `main` reads to build one command, lists every command of `smgov`."""
        root = typer.main.get_command(app)
        assert isinstance(root, Group)
        assert sorted(root.commands) == sorted(COMMANDS)

    @pytest.mark.parametrize("name", list(COMMANDS))
    def test_the_command_built_alone_is_the_same(self, name: str) -> None:
        """`smgov NAME ...` builds NAME alone (with its module's other root commands, if it is
        one), and it is the very command of the whole tree: the same help, parameters and
        subcommands."""
        whole = typer.main.get_command(app)
        alone = typer.main.get_command(assemble([name]))
        assert isinstance(whole, Group) and isinstance(alone, Group)
        module = COMMANDS[name][0]
        assert set(alone.commands) <= {name} | {n for n, (m, a) in COMMANDS.items() if m == module}
        assert shape(alone.commands[name]) == shape(whole.commands[name])
