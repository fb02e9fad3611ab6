"""click building blocks whose mistakes read as eprop's one line (boundary.usage_line words them).

A parameter type fails with `<value>: <problem>; valid: ...`, and the boundary puts the
option's name in front: `eprop: error: --format jpg: no such format; valid: png, pdf, svg`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import click


def parse_in(command: click.Command, parse: Any, ctx: click.Context, args: list[str]) -> list[str]:
    """`parse(ctx, args)`, with the context put on a usage error that click's parser raised without it
    (an option given without its value), so that the boundary can name the option's value."""
    try:
        return parse(ctx, args)
    except click.UsageError as exc:
        if exc.ctx is None:
            exc.ctx = ctx
        raise


HELP_OPTIONS = ["-h", "--help"]


class HelpFormatter(click.HelpFormatter):
    """click's help layout, except that an option's help never breaks inside a hyphenated word
    (`cross-entropy`, `event-camera`), so that it reads, and searches, as written."""

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((len(term) for term, _ in rows), default=0), col_max) + col_spacing
        indent = " " * (first_col + self.current_indent)
        for term, text in rows:
            self.write(f"{'':>{self.current_indent}}{term}")
            if not text:
                self.write("\n")
                continue
            self.write(" " * (first_col - len(term)) if len(term) <= first_col - col_spacing else "\n" + indent)
            lines = textwrap.wrap(text, max(self.width - first_col - 2, 10), break_on_hyphens=False) or [""]
            self.write("\n".join([lines[0], *(indent + line for line in lines[1:])]) + "\n")


class Context(click.Context):
    formatter_class = HelpFormatter


class Command(click.Command):
    """A click command as eprop's argparse commands were: long options may be shortened to a unique prefix,
    and surplus arguments are one line naming them and the command's usage."""

    context_class = Context

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = kwargs.setdefault("context_settings", {})
        settings.setdefault("allow_extra_args", True)  # checked below
        settings.setdefault("help_option_names", HELP_OPTIONS)
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = parse_in(self, super().parse_args, ctx, self.expand_abbreviations(ctx, args))
        if ctx.args:
            usage = " ".join([ctx.command_path, *self.collect_usage_pieces(ctx)])
            raise click.UsageError(f"{' '.join(ctx.args)}: unexpected argument; usage: {usage}", ctx)
        return rest

    def expand_abbreviations(self, ctx: click.Context, args: list[str]) -> list[str]:
        """`--desc` -> `--descending`: a long option may be shortened to a prefix that names one option
        only, as eprop's argparse command line allowed (click does not)."""
        longs = [opt for param in self.get_params(ctx) for opt in param.opts if opt.startswith("--")]
        expanded = []
        for i, arg in enumerate(args):
            if arg == "--":
                return expanded + args[i:]
            name, eq, value = arg.partition("=")
            matches = [opt for opt in longs if opt.startswith(name)] if name.startswith("--") else []
            if name in longs or len(matches) != 1:
                if name not in longs and len(matches) > 1:
                    raise click.UsageError(f"{name}: ambiguous option; valid: {', '.join(matches)}", ctx)
                expanded.append(arg)
            else:
                expanded.append(matches[0] + eq + value)
        return expanded


class Argument(click.Argument):
    """A positional argument with a description, which the one-line 'missing' error gives as the remedy."""

    def __init__(self, *args: Any, description: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.description = description


class OneOf(click.Choice):
    """A closed choice; a value outside it: `<value>: no such <noun>; valid: a, b, c`."""

    def __init__(self, choices: Sequence[str], noun: str) -> None:
        super().__init__(list(choices))
        self.noun = noun

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value not in self.choices:
            self.fail(f"{value}: no such {self.noun}; valid: {', '.join(map(str, self.choices))}", param, ctx)
        return value


class PositiveInt(click.ParamType):
    """A whole number >= 1; anything else: `<value>: must be <what>`."""

    name = "integer"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number <= 0:
            self.fail(f"{value}: must be {self.what}", param, ctx)
        return number
