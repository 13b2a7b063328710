"""Frames as the sim stamps them, for the tests of everything that follows them."""

from __future__ import annotations

import numpy as np

from sim_teleop.messages import IMAGE_SHAPE, EndReason, Frame, Phase


def frame(ep: int, phase: Phase, i: int, reason: EndReason = EndReason.NONE, success: bool = False) -> Frame:
    img = np.zeros(IMAGE_SHAPE, np.uint8)
    return Frame(
        episode_index=ep,
        frame_index=i,
        phase=phase,
        timestamp=0.1 * i,
        state=np.zeros(18, np.float32),
        action=np.zeros(4, np.float32),
        reward=float(success),
        success=success,
        front=img,
        wrist=img,
        cube_pose=np.zeros(7, np.float32),
        end_reason=reason,
    )


def attempt(ep: int, frames: int, reason: EndReason, done: int = 2, resetting: int = 2) -> list[Frame]:
    """Frames of one attempt as the sim emits them: running (the last carries the reason), done, resetting."""
    out = [frame(ep, Phase.RUNNING, i) for i in range(frames - 1)]
    out.append(frame(ep, Phase.RUNNING, frames - 1, reason, success=reason is EndReason.SUCCESS))
    out += [frame(ep, Phase.DONE, i, reason) for i in range(done)]
    out += [frame(ep, Phase.RESETTING, i, reason) for i in range(resetting)]
    return out
