"""Image helpers shared by the camera-metric tests."""

from __future__ import annotations

import numpy as np


def box_blur(img: np.ndarray, r: int) -> np.ndarray:
    """A (2r+1)-pixel box blur along both axes (wrapping at the borders), back to uint8."""
    out: np.ndarray = img.astype(np.float32)
    for axis in (0, 1):
        out = np.asarray(sum(np.roll(out, k, axis=axis) for k in range(-r, r + 1))) / (2 * r + 1)
    return out.astype(np.uint8)
