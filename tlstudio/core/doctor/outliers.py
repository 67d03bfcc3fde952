"""Images unlike the rest of the set: odd size, aspect ratio or mode, very dark, blank, or undecodable."""
from __future__ import annotations

from collections import Counter

import numpy as np

from tlstudio.core.dataset.spec import DatasetSpec
from tlstudio.core.doctor.findings import Finding
from tlstudio.core.doctor.pixels import PixelFacts

SIZE_FACTOR = 2.0  # area this many times above or below the median
ASPECT_FACTOR = 1.5  # width/height this many times off the median's
RARE_MODE = 0.05  # a mode held by fewer than this share of the images
DARK_P99 = 32  # 99% of the pixels darker than this (of 255)
BLANK_STD = 2.0  # gray levels spread less than this: one flat colour
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def _kind_of_mode(mode: str) -> str:
    return "grayscale" if mode in _GRAY_MODES else "colour"


def outliers(spec: DatasetSpec, facts: PixelFacts) -> list[Finding]:
    """One finding per odd image, naming every way it is odd; the score
    (0 to 1) is that of its strongest reason."""
    n = len(spec.items)
    ok = np.array([not e for e in facts.errors], dtype=bool)
    if not ok.any():
        return []
    wh = np.array(facts.sizes, dtype=np.float64).reshape(n, 2)
    area = np.log2(np.maximum(wh[:, 0] * wh[:, 1], 1))
    aspect = np.log2(np.maximum(wh[:, 0], 1) / np.maximum(wh[:, 1], 1))
    area_off = area - np.median(area[ok])
    aspect_off = aspect - np.median(aspect[ok])
    kinds = [_kind_of_mode(m) for m in facts.modes]
    kind_counts = Counter(k for k, good in zip(kinds, ok) if good)
    common_kind = kind_counts.most_common(1)[0][0]
    found = []
    for i in range(n):
        if not ok[i]:
            found.append(Finding("outlier", (spec.items[i],), 1.0, f"Does not decode: {facts.errors[i]}"))
            continue
        reasons: list[tuple[float, str]] = []
        if facts.std[i] < BLANK_STD:
            reasons.append((1.0, f"blank (one flat gray level, {facts.mean[i]:.0f} of 255)"))
        elif facts.p99[i] < DARK_P99:
            reasons.append((0.9, f"very dark (99% of pixels below {facts.p99[i]:.0f} of 255)"))
        if abs(area_off[i]) >= np.log2(SIZE_FACTOR):
            w, h = facts.sizes[i]
            how = "larger" if area_off[i] > 0 else "smaller"
            reasons.append((min(1.0, abs(area_off[i]) / 8),
                            f"{w}x{h}, {2 ** abs(area_off[i]):.1f}x {how} than the median image"))
        if abs(aspect_off[i]) >= np.log2(ASPECT_FACTOR):
            w, h = facts.sizes[i]
            reasons.append((min(1.0, abs(aspect_off[i]) / 3), f"aspect ratio {w / max(h, 1):.2f}, unlike most"))
        if kinds[i] != common_kind and kind_counts[kinds[i]] < RARE_MODE * ok.sum():
            reasons.append((0.5, f"{kinds[i]} ({facts.modes[i]}) among {common_kind} images"))
        if reasons:
            score = max(s for s, _ in reasons)
            text = "; ".join(r for _, r in reasons)
            found.append(Finding("outlier", (spec.items[i],), score, text[0].upper() + text[1:]))
    return found
