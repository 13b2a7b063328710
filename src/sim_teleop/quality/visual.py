"""Cheap per-frame image statistics for the camera-quality metrics.

Every frame is reduced once to a grey image (luma) and four numbers: mean brightness, fraction of
clipped-white pixels, a contrast-free sharpness ratio and the mean absolute difference to the previous
frame of the same camera. That is ~0.1 ms per 128x128 frame in numpy, so it runs inline at 10 Hz.

Those are whole-frame numbers: a smudge, occlusion or glare over a quarter of the image moves them too
little. `cell_stats` adds the mean luma and contrast of each cell of a GRID x GRID grid, which the camera
meter compares with each cell's calibrated clean range (`partial_cells`).

Sharpness = mean |Laplacian| / (mean |gradient| + 0.1): blur removes the high-frequency Laplacian faster
than the gradient, and brightness or contrast scaling changes both alike, so a dark frame does not look
blurred and a blurred frame is not mistaken for a dark one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class ImageStats:
    brightness: float  # mean luma, 0..255
    clipped: float  # fraction of pixels >= CLIP_LEVEL
    sharpness: float  # mean |Laplacian| / (mean |gradient| + SHARPNESS_EPS)
    texture: float = 0.0  # mean |gradient| (vertical + horizontal), grey levels per pixel


CLIP_LEVEL = 245.0
SHARPNESS_EPS = 0.1  # grey levels per pixel: keeps the ratio finite on flat frames


def mean(a: np.ndarray) -> float:
    """`float(a.mean())`, bit for bit, without `ndarray.mean`'s Python wrapper (~5 us a call, ~10 calls an
    image): numpy sums in the array's float type (pairwise) and divides in float64, then rounds back."""
    return float(a.dtype.type(float(np.add.reduce(a, axis=None)) / a.size))


Gradients = tuple[np.ndarray, np.ndarray]
"""|vertical| and |horizontal| neighbour differences of a grey image (H-1 x W, H x W-1)."""


def abs_gradients(g: np.ndarray) -> Gradients:
    """Computed once per frame: the whole-frame sharpness and the per-cell contrast both use them."""
    return np.abs(g[1:] - g[:-1]), np.abs(g[:, 1:] - g[:, :-1])


def image_stats(g: np.ndarray, grads: Gradients | None = None) -> ImageStats:
    """Statistics of one grey image (see module docstring)."""
    dy, dx = abs_gradients(g) if grads is None else grads
    lap = 4.0 * g[1:-1, 1:-1]
    lap -= g[:-2, 1:-1]
    lap -= g[2:, 1:-1]
    lap -= g[1:-1, :-2]
    lap -= g[1:-1, 2:]
    grad = dy.dtype.type(mean(dy)) + dx.dtype.type(mean(dx))
    return ImageStats(
        brightness=mean(g),
        clipped=float(np.count_nonzero(g >= CLIP_LEVEL)) / g.size,
        sharpness=float(lap.dtype.type(mean(np.abs(lap, out=lap))) / (grad + SHARPNESS_EPS)),
        texture=float(grad),
    )


def frame_difference(g: np.ndarray, previous: np.ndarray) -> float:
    """Mean absolute grey-level difference between two frames of one camera."""
    return mean(np.abs(g - previous))


GRID = 4  # cells per side: a quarter-image patch anywhere covers at least one whole cell of a 4x4 grid


def _cells(a: np.ndarray) -> np.ndarray:
    """GRID x GRID cell means of a 2-D array (rows and columns beyond a multiple of GRID dropped)."""
    h, w = (a.shape[0] // GRID) * GRID, (a.shape[1] // GRID) * GRID
    # `.mean(axis=(1, 3))` bit for bit (a sum, then a division by the count in float64), without its wrapper
    sums = np.add.reduce(a[:h, :w].reshape(GRID, h // GRID, GRID, w // GRID), axis=(1, 3))
    return np.true_divide(sums, np.intp((h // GRID) * (w // GRID)), out=sums, casting="unsafe")


def cell_stats(g: np.ndarray, grads: Gradients | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of a grey image: mean luma, and contrast = mean |gradient| / (mean luma + 1).

    Contrast is a ratio so that a gain (exposure) leaves it unchanged, while a smudge's blur and haze,
    a flat occluder or a clipped glare patch drive it towards 0."""
    dy, dx = abs_gradients(g) if grads is None else grads
    grad = dy[:, 1:] + dx[1:, :]
    luma = _cells(g)
    return luma, _cells(grad) / (luma + 1.0)


class CellRange:
    """A camera's clean cell range (luma low, luma high, contrast low: `calibration.CELL_RANGE`) with what
    `partial_cells` derives from it, computed once per camera instead of once per image."""

    __slots__ = ("contrast_low", "floor", "floored", "high", "low", "mid")

    def __init__(self, ref: np.ndarray) -> None:
        self.low, self.high, self.contrast_low = ref
        self.mid = np.sqrt(self.low * self.high)  # the middle of each cell's luma range
        floored = self.contrast_low > 0
        # the contrast loss is measured where the range has a floor, when at least half the cells have one
        self.floored = floored if np.count_nonzero(floored) >= self.contrast_low.size // 2 else None
        self.floor = self.contrast_low[floored]


def partial_cells(
    g: np.ndarray, ref: np.ndarray | CellRange, tolerance: float, grads: Gradients | None = None
) -> int:
    """How many cells of grey image `g` left their clean range `ref` = (luma low, luma high, contrast low).

    Luma is first divided by the frame's median cell gain over the middle of each range, and contrast by
    its median loss where the range has a floor, so a whole-frame exposure change or blur (the dark,
    over-exposed and blur metrics' job) moves few cells; a patch over a quarter of the image moves 4 of
    16 cells and leaves the medians alone."""
    r = ref if isinstance(ref, CellRange) else CellRange(ref)
    luma, contrast = cell_stats(g, grads)
    gain = _median(luma / r.mid)
    luma = luma / max(gain, 1e-3)
    if r.floored is not None:
        loss = _median(contrast[r.floored] / r.floor)
        contrast = contrast / max(min(loss, 1.0), 1e-3)
    off = (luma * tolerance < r.low) | (luma > r.high * tolerance) | (contrast * tolerance < r.contrast_low)
    return int(np.count_nonzero(off))


def _median(a: np.ndarray) -> float:
    """np.median of a few values, without its generic machinery (~10x faster on 16 cells)."""
    v = np.sort(a, axis=None)
    n = v.size
    return float(v[n // 2]) if n % 2 else float((v[n // 2 - 1] + v[n // 2]) / 2)
