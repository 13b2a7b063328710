"""Image conversions shared by dataset reading, quality scoring and the policy: luma and area resize.

`grey` is the one luma (ITU-R BT.601 weights) of the live scorer and of offline decoding, so a frame
scores the same in both. `resize_image` gives camera images at the resolution a policy was trained on. A
policy may be trained on images smaller than the sim renders (64x64 instead of 128x128: the ResNet
backbone costs ~4x less per step on the CPU). The training dataset is derived from a recorded one with
`scripts/resize_dataset.py`, and at eval the policy node resizes every sim image to the checkpoint's
input shape. Both go through `resize_image`, so the policy sees the same pixels in training and eval (up
to the video codec's loss, as at full size). Area averaging (box filter) keeps a small object such as
the cube as a blended patch instead of aliasing it away.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def grey(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 (RGB) -> float32 HxW luma in 0..255; a 2-D input is taken as grey already."""
    if image.ndim == 2:
        return image.astype(np.float32, copy=False)
    return image.astype(np.float32) @ LUMA


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
