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


def factor_spec(text: str) -> dict[str, float] | list[float]:
    """``--penalty-factor``: ``NAME=F,NAME=F,...`` ({name: factor}, the features not named
    keep 1), or one number >= 0 per feature, comma-separated or in a text file (separated by
    commas, spaces or new lines; ``#`` starts a comment)."""
    import os

    if "=" in text and not os.path.isfile(text):
        return _named_factors(text)
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
            f"expected comma-separated numbers >= 0, NAME=FACTOR pairs or a file of numbers, "
            f"got {text!r}")
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


def _named_factors(text: str) -> dict[str, float]:
    factors: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise argparse.ArgumentTypeError(
                f"expected FEATURE=FACTOR pairs separated by commas, got {item.strip()!r}")
        if name in factors:
            raise argparse.ArgumentTypeError(f"feature {name!r} is listed twice")
        factors[name] = non_negative_float(value.strip())
    return factors


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v
