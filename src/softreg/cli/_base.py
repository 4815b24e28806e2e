"""What every subcommand shares: errors, the argument parser, output and progress helpers."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

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
    """A one-line progress bar on stderr (drawn by ``rich``), redrawn at most ten times a second.

    On a terminal the line is redrawn in place; on anything else (``--progress`` with a
    redirected stderr) only the final state is written, once, when it closes.

    Parameters
    ----------
    label : str
        What is in progress ("fit", "load data.csv").
    total : int or float, optional
        Amount at completion, for a bar and a percentage.
    delay : float
        Seconds before the first draw (a short job shows nothing).
    stream : file, optional
        Where to draw (default ``sys.stderr``).
    """

    def __init__(self, label: str, total: float | None = None, *, delay: float = 0.0,
                 stream=None, width: int = 24):
        self.label, self.total, self.delay = label, total, delay
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.last = -1.0
        self.drawn = False
        self._progress: Any = None
        self._task: Any = None

    def _open(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        console = Console(file=self.stream, width=None if terminal else 120,
                          highlight=False, soft_wrap=False)
        self._progress = Progress(TextColumn("{task.description}"),
                                  BarColumn(bar_width=self.width), TaskProgressColumn(),
                                  TextColumn("{task.fields[text]}"), console=console,
                                  auto_refresh=False, transient=False)
        self._task = self._progress.add_task(self.label, total=self.total, text="")
        self._progress.start()
        self.drawn = True

    def update(self, done: float, text: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and (now - self.start < self.delay or now - self.last < 0.1):
            return
        self.last = now
        if self._progress is None:
            self._open()
        self._progress.update(self._task, completed=done, text=text, refresh=True)

    def close(self, done: float | None = None, text: str = "") -> None:
        """Draw the final state (``done``, e.g. the total: 100%) if anything was drawn."""
        if self._progress is None:
            return
        if done is not None:
            self._progress.update(self._task, completed=done, text=text)
        self._progress.refresh()
        self._progress.stop()
        self._progress = None


def fit_progress(args, max_iter: int, tol: float = 0.0):
    """(callback, close) showing iteration, loss and gradient norm while a model fits.

    The bar shows the larger of two fractions: iterations used of ``max_iter``, and the
    way the gradient norm has come from its first value down to ``tol`` on a log scale;
    it ends at 100% when the fit returns.
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
        # the fit has ended (converged, stalled or out of iterations): the bar ends full
        info = state.get("info")
        line.close(1.0, _info_text(info) if info is not None else "")

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
    """Floats with 4 decimals, or 4 significant digits in scientific notation where fixed
    decimals would hide them (1e-05 is not 0.0000)."""
    if isinstance(v, float):
        if v != 0 and not 1e-3 <= abs(v) < 1e6:
            return f"{v:.3e}"
        return f"{v:.4f}"
    return str(v)
