# PYTHON_ARGCOMPLETE_OK
"""The ``softreg`` console script: fit, predict, evaluate, inspect, export, demo.

Each subcommand is a module with ``add_parser(subparsers, parents)`` (declaring its
options) and ``run(args) -> int``; adding a subcommand or an option touches one module.
Results go to stdout (text, or JSON with ``--json``); errors are one line on stderr with
exit status 2 for a wrong command line and 1 for anything else, and no traceback unless
``--debug``; progress goes to stderr only when it is a terminal or ``--progress`` is given.

Start-up is kept short: ``--help``, ``--version`` and ``inspect`` import neither
scikit-learn, pandas nor matplotlib (each subcommand imports what it needs in ``run``).
Shell completion: ``eval "$(register-python-argcomplete softreg)"`` (the argcomplete
package; the marker comment above enables it).
"""

from __future__ import annotations

import sys
import warnings

from ._base import CLIError, Parser, UsageError, common_options

__all__ = ["main", "build_parser", "CLIError", "UsageError"]

COMMANDS = ("fit", "predict", "evaluate", "inspect", "export", "demo")


def build_parser() -> Parser:
    """The argument parser of the ``softreg`` command with every subcommand."""
    from importlib import import_module

    from .. import __version__

    parser = Parser(prog="softreg", description="Softmax (multinomial logistic) regression "
                    "from the shell: train, evaluate, inspect, export and use models.",
                    epilog="Run 'softreg COMMAND --help' for the options of a command. "
                    "Start with 'softreg demo'.")
    parser.add_argument("--version", action="version", version=f"softreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    parents = [common_options()]
    for name in COMMANDS:
        import_module(f".{name}", __name__).add_parser(sub, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    prog = "softreg"
    try:
        parser = build_parser()
        _complete(parser)
        args = parser.parse_args(argv)
        prog = f"softreg {args.command}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return args.run(args)
            finally:
                for w in _unique(caught):
                    print(f"{prog}: warning: {_one_line(str(w.message))}", file=sys.stderr)
    except SystemExit as e:  # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except BrokenPipeError:  # e.g. `softreg predict ... | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except CLIError as e:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(str(e))}", file=sys.stderr)
        return e.code
    except (ValueError, OSError, MemoryError, ImportError, ArithmeticError) as e:
        if debug:
            raise
        print(f"{prog}: error: {_one_line(_describe(e))}", file=sys.stderr)
        return 1
    except Exception as e:  # an unexpected failure still gets one line
        if debug:
            raise
        print(f"{prog}: error: unexpected {type(e).__name__}: {_one_line(str(e))} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1


def _complete(parser) -> None:
    """Answer a shell's completion request (argcomplete), which exits; else do nothing."""
    import os

    if "_ARGCOMPLETE" not in os.environ:
        return
    try:
        import argcomplete
    except ImportError:
        return
    argcomplete.autocomplete(parser)


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    if isinstance(e, MemoryError):
        return "out of memory"
    if isinstance(e, ImportError):
        return (f"{e} (the command line needs optional packages: "
                "pip install 'softreg[cli]', and 'softreg[onnx]' for export)")
    return str(e) or type(e).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _unique(caught):
    seen = set()
    for w in caught:
        key = (w.category, str(w.message))
        if key not in seen:
            seen.add(key)
            yield w
