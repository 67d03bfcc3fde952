"""How long something took or will take, written the same way everywhere (console, window)."""
from __future__ import annotations

import math


def format_duration(seconds: float | None, unknown: str = "--:--") -> str:
    """`m:ss`, or `h:mm:ss` past an hour; `unknown` when there is no estimate yet."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return unknown
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
