"""What every subcommand shares: errors, the argument parser, output and progress helpers."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .._jsonable import json_default


class CLIError(Exception):
    """An expected failure: reported as one line on stderr, exit status ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class UsageError(CLIError):
    """The command line itself is wrong (exit status 2)."""

    def __init__(self, message: str):
        super().__init__(message, code=2)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit status 2)."""

    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes (after the subcommand name)."""
    parent = argparse.ArgumentParser(add_help=False)
    g = parent.add_argument_group("general")
    g.add_argument("--debug", action="store_true",
                   help="show the full traceback when something fails")
    g.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    return parent


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable JSON on stdout instead of text")


def emit_json(obj) -> None:
    """Write one JSON document on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, allow_nan=False, default=json_default) + "\n")




def show_progress(args) -> bool:
    """--progress forces it on, --no-progress off; else on when stderr is a terminal
    (and the output is not --json)."""
    if args.progress is not None:
        return args.progress
    if getattr(args, "json", False):
        return False
    return sys.stderr.isatty()


class ProgressLine:
    """A one-line progress display on stderr, redrawn at most ten times a second.

    Parameters
    ----------
    label : str
        What is in progress ("fit", "load data.csv").
    total : int or float, optional
        Amount at completion, for a bar and a percentage.
    delay : float
        Seconds before the first draw (a short job shows nothing).
    """

    def __init__(self, label: str, total: float | None = None, *, delay: float = 0.0,
                 stream=None, width: int = 24):
        self.label, self.total, self.delay = label, total, delay
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.last = -1.0
        self.drawn = False

    def update(self, done: float, text: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (now - self.start < self.delay or now - self.last < 0.1):
            return
        self.last = now
        bar = ""
        if self.total:
            frac = min(max(done / self.total, 0.0), 1.0)
            fill = int(round(frac * self.width))
            bar = f" [{'#' * fill}{'.' * (self.width - fill)}] {100 * frac:3.0f}%"
        line = f"{self.label}{bar} {text}".rstrip()
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self, done: float | None = None, text: str = "") -> None:
        if done is not None and self.drawn:
            self.update(done, text, force=True)
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def fit_progress(args, max_iter: int, tol: float = 0.0):
    """(callback, close) showing iteration, loss and gradient norm while a model fits.

    The bar shows the larger of two fractions: iterations used of ``max_iter``, and the
    way the gradient norm has come from its first value down to ``tol`` on a log scale.
    """
    if not show_progress(args):
        return None, lambda: None
    line = ProgressLine("fit", total=1.0, delay=0.0 if args.progress else 0.5)
    state: dict = {}

    def fraction(info) -> float:
        done = info.iteration / max_iter
        g0 = state.setdefault("g0", info.grad_norm)
        g = info.grad_norm
        if tol > 0 and np.isfinite(g0) and np.isfinite(g) and g0 > tol and g > 0:
            done = max(done, np.log(g0 / g) / np.log(g0 / tol))
        return min(done, 1.0)

    def callback(info):
        state["info"] = info
        line.update(fraction(info), _info_text(info))

    def close():
        info = state.get("info")
        if info is not None:
            line.close(fraction(info), _info_text(info))
        else:
            line.close()

    return callback, close


def _info_text(info) -> str:
    text = f"iter {info.iteration}  loss {info.loss:.8g}"
    if np.isfinite(info.grad_norm):  # lbfgs and sgd do not report it
        text += f"  |grad| {info.grad_norm:.2e}"
    return text


def format_table(rows: list[list], header: list[str]) -> str:
    """Plain-text table: text columns left-aligned, number columns right-aligned."""
    numeric = [bool(rows) and all(isinstance(r[i], int | float) and not isinstance(r[i], bool)
                                  for r in rows) for i in range(len(header))]
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(header)] + [line(r) for r in cells])


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)
