"""Every ``anbao …`` command line in the README's and docs' code blocks is a real command.

Each line is parsed the way the shell and click would: split with :mod:`shlex`, cut at the
shell's operators (pipes, redirections, ``&&``), then walked down ``anbao``'s command groups and
given to the leaf command's own option parser (``make_parser``, nothing runs). Unknown commands
and options, missing option values, missing required options and arguments, surplus arguments and
values outside a ``Choice`` fail, naming the file and line. File arguments are not opened: the
files an example names are the reader's.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from anbao.cli import main
from tests.paths import ROOT

#: Every guide a reader follows; the CHANGELOG is history (its commands were right at the time).
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "deploy" / "production" / "README.md",
    ROOT / "tests" / "journeys" / "README.md",
]
_FENCE = re.compile(r"^\s*(```|~~~)")
#: What click's parser leaves for a parameter not given (``click.core.UNSET`` in click 8.2+).
_UNSET = getattr(click.core, "UNSET", None)
_SHELL = {"", "sh", "bash", "console", "shell"}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")
_MENTION = re.compile(r"(?:^|[\s;|&(`\"])(?:\S*/)?anbao(?:\s|$|\))")


def code_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, logical line) of the shell code blocks (bare or ``sh``); ``\\``
    continuations joined."""
    inside, shell, pending, start = False, False, "", 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fence := _FENCE.match(line):
            inside = not inside
            shell = inside and line[fence.end() :].strip() in _SHELL
            continue
        if not shell:
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>()")
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError as exc:  # an unbalanced quote
        raise AssertionError(f"not a shell line: {line!r}") from exc


def invocations(line: str) -> Iterator[list[str]]:
    """The argument lists given to ``anbao`` on one shell line: a command that starts the line
    or follows an operator (``|``, ``&&``, ``;``, ``$(``), after ``NAME=value`` assignments."""
    args: list[str] | None = None
    at_start = True
    for token in _tokens(line):
        if "$(" in token:  # a quoted command substitution: "$(anbao ...)"
            yield from invocations(token.split("$(", 1)[1].rsplit(")", 1)[0])
        if set(token) <= set("|&;<>()"):
            if args is not None:
                if token[0] in "<>" and args and args[-1].isdigit():
                    args.pop()  # the 2 of 2>
                yield args
            args, at_start = None, token[0] not in "<>"
            continue
        if args is not None:
            args.append(token)
        elif at_start and _ASSIGNMENT.fullmatch(token):
            continue
        elif at_start and (token == "anbao" or token.endswith("/anbao")):
            args = []
        else:
            at_start = False
    if args is not None:
        yield args


def examples() -> Iterator[tuple[str, list[str]]]:
    for path in DOCS:
        for number, line in code_lines(path):
            if not _MENTION.search(line):
                continue
            for args in invocations(line):
                yield f"{path.relative_to(ROOT)}:{number}", args


def check(args: list[str]) -> None:
    """Raises ``click.UsageError`` when ``anbao ARGS`` would not parse."""
    command: click.Command = main
    ctx = click.Context(main, info_name="anbao")
    while isinstance(command, click.Group):
        parser = command.make_parser(ctx)
        parser.allow_interspersed_args = False
        opts, rest, _ = parser.parse_args(list(args))
        if opts.get("help") or opts.get("version") or not rest:
            if not rest and not opts:
                raise click.UsageError("a command group without a command", ctx)
            return
        name, *args = rest
        sub = command.get_command(ctx, name)
        if sub is None:
            raise click.UsageError(f"no command {name!r}", ctx)
        command, ctx = sub, click.Context(sub, info_name=name, parent=ctx)
    parser = command.make_parser(ctx)
    opts, rest, _ = parser.parse_args(list(args))
    if opts.get("help"):
        return
    for param in command.params:
        value = opts.get(param.name or "", _UNSET)
        if value in (None, (), _UNSET):
            # An option an environment variable may carry (ANBAO_TOKEN) is the reader's.
            if param.required and not (isinstance(param, click.Option) and param.envvar):
                name = (
                    param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
                )
                raise click.UsageError(f"missing {name}", ctx)
            continue
        if isinstance(param.type, click.Choice):
            for item in value if isinstance(value, (list, tuple)) else [value]:
                param.type.convert(item, param, ctx)
    if rest:
        raise click.UsageError(f"unexpected arguments {rest}", ctx)


CASES = list(examples())


def test_the_docs_have_cli_examples() -> None:
    assert len(CASES) > 50  # the extractor finds them (a broken one would pass vacuously)


@pytest.mark.parametrize(("where", "args"), CASES, ids=[c[0] for c in CASES])
def test_a_documented_command_line_parses(where: str, args: list[str]) -> None:
    try:
        check(args)
    except click.ClickException as exc:
        pytest.fail(f"{where}: anbao {shlex.join(args)}: {exc.format_message()}")


@pytest.mark.parametrize(
    "line",
    [
        "anbao nosuch",
        "anbao seal verify --no-such-option x.ofd",
        "anbao iam apply",  # FILES is required
        "anbao seal sign doc.ofd --seal s.esl --key k --cert c",  # -o is required
        "anbao iam apps register x --type unknown",
        "anbao settings extra",
        "anbao iam",
    ],
)
def test_a_broken_command_line_is_found(line: str) -> None:
    (args,) = invocations(line)
    with pytest.raises(click.ClickException):
        check(args)


_INLINE = re.compile(r"`((?:\.venv/bin/)?anbao(?: [^`]*)?)`")
_WORD = re.compile(r"[a-z][a-z0-9-]*")


def inline_commands() -> Iterator[tuple[str, list[str]]]:
    """``anbao …`` in the prose's code spans: the command words, up to the first other token."""
    for path in DOCS:
        inside = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _FENCE.match(line):
                inside = not inside
            if inside:
                continue
            for span in _INLINE.findall(line):
                words: list[str] = []
                if span.split()[1:2] and span.split()[1] not in main.list_commands(
                    click.Context(main)
                ):
                    continue  # a name that starts with "anbao" (the "anbao browser" flow)
                for word in span.split()[1:]:
                    if not _WORD.fullmatch(word):
                        break
                    words.append(word)
                yield f"{path.relative_to(ROOT)}:{number}", words


INLINE = list(inline_commands())


@pytest.mark.parametrize(("where", "words"), INLINE, ids=[c[0] for c in INLINE])
def test_a_command_named_in_the_prose_exists(where: str, words: list[str]) -> None:
    command: click.Command = main
    ctx = click.Context(main, info_name="anbao")
    for word in words:
        if not isinstance(command, click.Group):
            return  # an argument (a name, a file) follows the command
        sub = command.get_command(ctx, word)
        assert sub is not None, f"{where}: anbao {' '.join(words)}: no command {word!r}"
        command, ctx = sub, click.Context(sub, info_name=word, parent=ctx)
