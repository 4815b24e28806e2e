"""Text from files shown safely on a terminal.

Labels, feature names and notes come from files that someone else may have written: a label
holding ``ESC [ 2 J`` would clear the screen, a newline would forge an output line. Before
they are printed as text, control and format characters are shown as escapes (``\\x1b``,
``\\n``, ``\\u202e``); ordinary non-ASCII letters are kept. Very long texts are shortened.
"""

from __future__ import annotations

import unicodedata

#: longest text printed whole (characters); longer ones are cut with a note of their length
MAX_SHOWN_CHARS = 200

_UNSAFE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def printable(value, limit: int = MAX_SHOWN_CHARS) -> str:
    """``str(value)`` with control/format characters escaped and at most ``limit`` shown.

    Parameters
    ----------
    value : object
        Converted with ``str``.
    limit : int
        Longer texts keep their first ``limit`` characters and say how long they were.
    """
    text = str(value)
    cut = len(text) > limit
    shown = text[:limit] if cut else text
    if not shown.isprintable():
        shown = "".join(_escape(ch) if unicodedata.category(ch) in _UNSAFE else ch
                        for ch in shown)
    return shown + (f"...({len(text)} characters)" if cut else "")


def _escape(ch: str) -> str:
    code = ord(ch)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
