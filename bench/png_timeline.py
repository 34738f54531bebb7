"""A PNG timeline of labelled bars, written with zlib alone (no imaging library needed).

Text is drawn with a built-in 5x7 pixel font (upper case, digits, a little punctuation;
lower case is drawn as upper case), scaled 2x. One row per bar: the label on the left,
the bar on a time axis on the right, its start and length in seconds after it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

# Each glyph: 7 rows of 5 bits, most significant bit on the left.
_FONT: dict[str, tuple[int, ...]] = {
    " ": (0, 0, 0, 0, 0, 0, 0),
    "A": (14, 17, 17, 31, 17, 17, 17),
    "B": (30, 17, 17, 30, 17, 17, 30),
    "C": (14, 17, 16, 16, 16, 17, 14),
    "D": (30, 17, 17, 17, 17, 17, 30),
    "E": (31, 16, 16, 30, 16, 16, 31),
    "F": (31, 16, 16, 30, 16, 16, 16),
    "G": (14, 17, 16, 23, 17, 17, 15),
    "H": (17, 17, 17, 31, 17, 17, 17),
    "I": (14, 4, 4, 4, 4, 4, 14),
    "J": (7, 2, 2, 2, 2, 18, 12),
    "K": (17, 18, 20, 24, 20, 18, 17),
    "L": (16, 16, 16, 16, 16, 16, 31),
    "M": (17, 27, 21, 21, 17, 17, 17),
    "N": (17, 17, 25, 21, 19, 17, 17),
    "O": (14, 17, 17, 17, 17, 17, 14),
    "P": (30, 17, 17, 30, 16, 16, 16),
    "Q": (14, 17, 17, 17, 21, 18, 13),
    "R": (30, 17, 17, 30, 20, 18, 17),
    "S": (15, 16, 16, 14, 1, 1, 30),
    "T": (31, 4, 4, 4, 4, 4, 4),
    "U": (17, 17, 17, 17, 17, 17, 14),
    "V": (17, 17, 17, 17, 17, 10, 4),
    "W": (17, 17, 17, 21, 21, 21, 10),
    "X": (17, 17, 10, 4, 10, 17, 17),
    "Y": (17, 17, 10, 4, 4, 4, 4),
    "Z": (31, 1, 2, 4, 8, 16, 31),
    "0": (14, 17, 19, 21, 25, 17, 14),
    "1": (4, 12, 4, 4, 4, 4, 14),
    "2": (14, 17, 1, 2, 4, 8, 31),
    "3": (31, 2, 4, 2, 1, 17, 14),
    "4": (2, 6, 10, 18, 31, 2, 2),
    "5": (31, 16, 30, 1, 1, 17, 14),
    "6": (6, 8, 16, 30, 17, 17, 14),
    "7": (31, 1, 2, 4, 8, 8, 8),
    "8": (14, 17, 17, 14, 17, 17, 14),
    "9": (14, 17, 17, 15, 1, 2, 12),
    ".": (0, 0, 0, 0, 0, 12, 12),
    ",": (0, 0, 0, 0, 12, 4, 8),
    ":": (0, 12, 12, 0, 12, 12, 0),
    "-": (0, 0, 0, 31, 0, 0, 0),
    "_": (0, 0, 0, 0, 0, 0, 31),
    "/": (1, 1, 2, 4, 8, 16, 16),
    "(": (2, 4, 8, 8, 8, 4, 2),
    ")": (8, 4, 2, 2, 2, 4, 8),
    "+": (0, 4, 4, 31, 4, 4, 0),
    "=": (0, 0, 31, 0, 31, 0, 0),
    "%": (24, 25, 2, 4, 8, 19, 3),
    "?": (14, 17, 1, 2, 4, 0, 4),
}
_SCALE = 2
_CHAR_W = 6 * _SCALE  # 5 pixels and a gap
_ROW_H = 22
_LABEL_W = 34 * _CHAR_W
_PLOT_W = 700
_NUMBERS_W = 20 * _CHAR_W
_MARGIN = 10

Color = tuple[int, int, int]
_PALETTE: tuple[Color, ...] = (
    (66, 133, 244),
    (219, 68, 55),
    (244, 180, 0),
    (15, 157, 88),
    (171, 71, 188),
    (0, 172, 193),
    (255, 112, 67),
    (124, 179, 66),
)


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x1 <= x0:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, s: str, color: Color = (0, 0, 0)) -> None:
        for ch in s:
            glyph = _FONT.get(ch.upper(), _FONT["?"])
            for r, bits in enumerate(glyph):
                for c in range(5):
                    if bits & (16 >> c):
                        px, py = x + c * _SCALE, y + r * _SCALE
                        self.rect(px, py, px + _SCALE, py + _SCALE, color)
            x += _CHAR_W

    def png(self) -> bytes:
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * self.width * 3 : (y + 1) * self.width * 3])
            for y in range(self.height)
        )

        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def render(title: str, bars: Sequence[tuple[str, float, float]], path: Path) -> None:
    """Write a PNG: one row per ``(label, start_s, length_s)``, on a common time axis."""
    end = max((s + n for _, s, n in bars), default=1.0) or 1.0
    width = _MARGIN * 2 + _LABEL_W + _PLOT_W + _NUMBERS_W
    height = _MARGIN * 2 + _ROW_H * (len(bars) + 3)
    c = _Canvas(width, height)
    c.text(_MARGIN, _MARGIN, title[: (width - 2 * _MARGIN) // _CHAR_W])
    x_plot = _MARGIN + _LABEL_W
    top = _MARGIN + _ROW_H * 2
    # The axis: a tick and a label every "step" seconds.
    step = next(s for s in (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120) if end / s <= 12)
    t = 0.0
    while t <= end + 1e-9:
        x = x_plot + int(t / end * _PLOT_W)
        c.rect(x, top - 4, x + 1, height - _MARGIN, (220, 220, 220))
        c.text(x - _CHAR_W, top - _ROW_H + 2, f"{t:g}", (90, 90, 90))
        t += step
    for i, (label, start, length) in enumerate(bars):
        y = top + i * _ROW_H
        c.text(_MARGIN, y + 3, label[: _LABEL_W // _CHAR_W - 1])
        x0 = x_plot + int(start / end * _PLOT_W)
        x1 = max(x0 + 2, x_plot + int((start + length) / end * _PLOT_W))
        c.rect(x0, y + 2, x1, y + _ROW_H - 4, _PALETTE[i % len(_PALETTE)])
        c.text(x_plot + _PLOT_W + 8, y + 3, f"{start:.2f} +{length:.2f}S")
    path.write_bytes(c.png())
