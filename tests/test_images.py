"""The one resize used for training images (resize_dataset.py) and for the sim's images at eval."""

from __future__ import annotations

import numpy as np
import pytest

from sim_teleop.images import resize_image


def test_halving_averages_each_2x2_block() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    out = resize_image(img, 64, 64)
    blocks = img.reshape(64, 2, 64, 2, 3).astype(np.float64).mean(axis=(1, 3))
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert np.max(np.abs(out.astype(np.float64) - blocks)) <= 1.0  # rounding only


def test_a_small_object_survives_as_a_blended_patch() -> None:
    img = np.full((128, 128, 3), (40, 60, 90), np.uint8)
    img[97:100, 61:64] = (230, 90, 230)  # a 3x3 pink cube, not aligned to the 2x2 grid
    out = resize_image(img, 64, 64).astype(int)
    background = np.array([40, 60, 90])
    changed = np.argwhere(np.any(out != background, axis=2))
    assert len(changed) == 4  # the cube touches 2x2 output pixels, none is lost
    assert out[48:51, 30:33, 0].max() > 150  # and the strongest of them is still clearly pink


def test_same_size_is_returned_untouched_and_bad_input_is_refused() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    assert resize_image(img, 64, 64) is img
    with pytest.raises(ValueError, match="upscale"):
        resize_image(img, 128, 128)
    with pytest.raises(ValueError, match="uint8"):
        resize_image(img.astype(np.float32), 32, 32)
    with pytest.raises(ValueError, match="HxWx3"):
        resize_image(np.zeros((64, 64), np.uint8), 32, 32)
