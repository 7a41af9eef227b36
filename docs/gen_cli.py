"""Write the command-line reference (cli.md) from evoprune's own argparse parsers, so it never drifts from them.

Run by mkdocs-gen-files at build time. `evoprune.cli.build_parser()` imports no TensorFlow.
"""
import argparse
import os

import mkdocs_gen_files

os.environ["COLUMNS"] = "100"  # argparse wraps help text to the terminal width: fix it for the page

from evoprune.cli import build_parser  # noqa: E402


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name, in the order they were registered."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def sections(parser: argparse.ArgumentParser, path: list[str], level: int):
    """(heading level, command words, parser) for `parser` and every subcommand under it, depth first."""
    yield level, path, parser
    for name, sub in subcommands(parser).items():
        yield from sections(sub, [*path, name], level + 1)


with mkdocs_gen_files.open("cli.md", "w") as page:
    print("# Command line\n", file=page)
    print("Generated at build time from `evoprune.cli.build_parser()`: each section is that command's "
          "`--help`. `python -m evoprune …` works the same as `evoprune …`.\n", file=page)
    for level, path, parser in sections(build_parser(), ["evoprune"], 1):
        if level > 1:
            print(f"{'#' * level} `{' '.join(path)}`\n", file=page)
        print("```text", file=page)
        print(parser.format_help().rstrip(), file=page)
        print("```\n", file=page)
