"""argparse value types that turn a bad value into a usage error naming it."""

from __future__ import annotations

import argparse


def non_negative_float(text: str) -> float:
    v = _float(text)
    if not v >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return v


def positive_float(text: str) -> float:
    v = _float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


def unit_float(text: str) -> float:
    v = _float(text)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return v


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return v


def column_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def factor_list(text: str) -> list[float]:
    """``--penalty-factor``: numbers >= 0 separated by commas, or the path of a text file
    holding them (separated by commas, spaces or new lines; ``#`` starts a comment)."""
    import os

    source = repr(text)
    if os.path.isfile(text):
        try:
            with open(text, encoding="utf-8") as fh:
                lines = [line.split("#", 1)[0] for line in fh]
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc}") from None
        fields = " ".join(lines).replace(",", " ").split()
        source = f"file {text!r}"
    else:
        fields = [f.strip() for f in text.split(",")]
    if not fields or not all(fields):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers >= 0 or a file of them, got {text!r}")
    values = []
    for t, field in enumerate(fields):
        try:
            v = _float(field)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{source}, value {t + 1}: {exc}") from None
        if v < 0:
            raise argparse.ArgumentTypeError(
                f"{source}, value {t + 1}: expected a number >= 0, got {field!r}")
        values.append(v)
    return values


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v
