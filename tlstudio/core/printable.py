"""File and class names as text that is safe to show: control characters escaped, as `ls -b` does.

A file name may hold a newline, a carriage return or an escape sequence; printed
raw it could forge a line of our output ("Skipped files: none") or clear the
terminal. Every human-readable output passes names through `printable`;
machine-readable output (`--json`) keeps them exact.
"""
from __future__ import annotations

import re

_NAMED = {"\a": "\\a", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\r": "\\r"}
# C0 and C1 controls and DEL, plus the invisible characters that move or reorder
# text (line and paragraph separators, bidirectional overrides and isolates).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\{code:03o}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` (a str, a Path, anything) with every unsafe character written as an escape."""
    text = str(text)
    if text.isprintable():  # the common case: nothing to escape, no regex pass
        return text
    return _UNSAFE.sub(_escape, text)

