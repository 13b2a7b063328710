"""Camera images at the resolution a policy was trained on: one resize used for training data and eval.

A policy may be trained on images smaller than the sim renders (64x64 instead of 128x128: the ResNet
backbone costs ~4x less per step on the CPU). The training dataset is derived from a recorded one with
`scripts/resize_dataset.py`, and at eval the policy node resizes every sim image to the checkpoint's
input shape. Both go through `resize_image`, so the policy sees the same pixels in training and eval
(up to the video codec's loss, as at full size). Area averaging (box filter) keeps a small object such
as the cube as a blended patch instead of aliasing it away.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """HxWx3 uint8 -> height x width x 3 uint8 by area averaging; the input itself when sizes agree."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 image, got {img.dtype} {img.shape}")
    if height < 1 or width < 1:
        raise ValueError(f"target size must be positive, got {height}x{width}")
    if img.shape[:2] == (height, width):
        return img
    if height > img.shape[0] or width > img.shape[1]:
        raise ValueError(f"will not upscale {img.shape[0]}x{img.shape[1]} to {height}x{width}")
    out = Image.fromarray(np.ascontiguousarray(img)).resize((width, height), Image.Resampling.BOX)
    return np.asarray(out, dtype=np.uint8)
