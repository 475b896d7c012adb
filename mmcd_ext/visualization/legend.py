"""A legend strip of colour swatches and names, drawn below a figure."""
from typing import List, Sequence, Tuple

import cv2
import numpy as np

#: Side of a colour swatch (px).
SWATCH = 12
#: Height of one line of the legend (px).
LINE = 18
#: Background of the legend (RGB).
LEGEND_BACKGROUND = (255, 255, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_SCALE = 0.4


def _text_width(text: str) -> int:
    (w, _), _ = cv2.getTextSize(text, _FONT, _SCALE, 1)
    return w


def draw_legend(entries: Sequence[Tuple[str, Sequence[int]]],
                width: int) -> np.ndarray:
    """Draw ``[swatch] name`` entries left to right, wrapping lines.

    Each swatch is a ``SWATCH x SWATCH`` square of the entry's colour with a
    grey border; names are black on white.

    Args:
        entries (Sequence[tuple[str, Sequence[int]]]): ``(name, (r, g, b))``
            pairs, in order.
        width (int): Width of the strip (px), that of the figure above.

    Returns:
        np.ndarray: ``(n_lines * LINE + 4, width, 3)`` uint8 RGB image.
    """
    lines: List[List[Tuple[int, str, Sequence[int]]]] = [[]]
    x = 4
    for name, color in entries:
        needed = SWATCH + 4 + _text_width(name) + 10
        if lines[-1] and x + needed > width:
            lines.append([])
            x = 4
        lines[-1].append((x, name, color))
        x += needed
    out = np.empty((len(lines) * LINE + 4, width, 3), np.uint8)
    out[...] = LEGEND_BACKGROUND
    for row, line in enumerate(lines):
        top = 4 + row * LINE
        for x0, name, color in line:
            cv2.rectangle(out, (x0, top), (x0 + SWATCH - 1, top + SWATCH - 1),
                          (128, 128, 128), 1)
            out[top + 1:top + SWATCH - 1, x0 + 1:x0 + SWATCH - 1] = \
                np.asarray(color[:3], np.uint8)
            cv2.putText(out, name, (x0 + SWATCH + 4, top + SWATCH - 2), _FONT,
                        _SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return out
