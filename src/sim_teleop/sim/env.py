"""gym-hil Panda environment behind absolute position control, with render settings fast enough for 10 Hz.

gym-hil's base env takes a 7-D *delta* action (xyz metres added to a mocap target, rpy unused, gripper
delta). Our action is 4-D and absolute: the target tool-centre-point offset from the episode's start
pose and a gripper command in [0, 1]. This module converts one into the other, rate-limited so a jump
in the commanded target becomes a smooth motion.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from sim_teleop.messages import (
    ACTION_DIM,
    CUBE_POSE_DIM,
    GRIPPER_COMMAND_MAX,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    STATE_DIM,
    STATE_GRIPPER,
)

PICK_CUBE = "gym_hil/PandaPickCubeBase-v0"
ARRANGE_BOXES = "gym_hil/PandaArrangeBoxesBase-v0"
SUPPORTED_ENVS = (PICK_CUBE, ARRANGE_BOXES)

TARGET_LIMIT = 0.35
"""Largest commanded offset (m) from the start pose on any axis; gym-hil also clamps to its workspace."""
MAX_STEP = 0.04
"""Largest mocap move per control step (m): 0.4 m/s at 10 Hz keeps the operational-space control stable."""


def ensure_offscreen_gl() -> str:
    """Pick MuJoCo's GL backend before mujoco is imported: osmesa without a display unless set."""
    if not os.environ.get("MUJOCO_GL") and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "osmesa"
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    return os.environ.get("MUJOCO_GL", "glfw")


@dataclass(slots=True)
class Observation:
    state: np.ndarray  # (18,) float32
    front: np.ndarray  # (128, 128, 3) uint8
    wrist: np.ndarray
    cube_pose: np.ndarray  # (7,) float32: xyz + quaternion (wxyz) of the first block
    reward: float = 0.0
    success: bool = False
    failure: bool = False  # the env terminated without success
    contact_force: float = 0.0  # largest robot-vs-world contact normal force (N)


VISUAL_MESH_CELL = 0.008
"""Vertex-clustering cell (m) for visual meshes: 190k -> 25k triangles; a 128x128 pixel covers more."""


def decimate_visual_meshes(model: Any, cell: float) -> tuple[int, int]:
    """Simplify render-only meshes in place by vertex clustering; returns (faces before, after).

    Software GL (llvmpipe) spends most of a frame transforming the Panda's 190k visual triangles, most
    of them sub-pixel at 128x128. Only meshes of geoms that never collide are touched, and only their
    face lists (existing vertices are reused), so physics and collision geometry are unchanged. Must run
    before a renderer uploads the meshes.
    """
    import mujoco

    mesh_ids = sorted(
        {
            int(model.geom_dataid[g])
            for g in range(model.ngeom)
            if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
            and model.geom_contype[g] == 0
            and model.geom_conaffinity[g] == 0
        }
    )
    before = after = 0
    for i in mesh_ids:
        va, vn = model.mesh_vertadr[i], model.mesh_vertnum[i]
        fa, fn = model.mesh_faceadr[i], model.mesh_facenum[i]
        verts = model.mesh_vert[va : va + vn]
        _, cluster = np.unique(np.floor(verts / cell).astype(np.int64), axis=0, return_inverse=True)
        cluster = cluster.reshape(-1)
        representative = np.zeros(cluster.max() + 1, dtype=np.int64)
        representative[cluster[::-1]] = np.arange(vn)[::-1]  # the first vertex of each cluster
        faces = representative[cluster][model.mesh_face[fa : fa + fn]]
        keep = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
        idx = np.flatnonzero(keep)
        _, first = np.unique(np.sort(faces[idx], axis=1), axis=0, return_index=True)
        idx = idx[np.sort(first)]
        n = len(idx)
        model.mesh_face[fa : fa + n] = faces[idx]
        model.mesh_facenormal[fa : fa + n] = model.mesh_facenormal[fa : fa + fn][idx].copy()
        if model.mesh_facetexcoord.size:
            model.mesh_facetexcoord[fa : fa + n] = model.mesh_facetexcoord[fa : fa + fn][idx].copy()
        model.mesh_facenum[i] = n
        before += int(fn)
        after += n
    return before, after


def clamp_action(action: np.ndarray) -> np.ndarray:
    """Clamp a (validated, finite) action into the commandable range."""
    out = np.asarray(action, dtype=np.float32).copy()
    out[:3] = np.clip(out[:3], -TARGET_LIMIT, TARGET_LIMIT)
    out[3] = np.clip(out[3], 0.0, 1.0)
    return out


ACTION_SLACK = 0.01
"""How far (m on a target axis, or gripper units) an action may lie outside the commandable range and
be clamped without a word: a policy's 1.003 gripper is noise, a target 30 cm away is a bug."""


def _numbers(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def action_problem(action: np.ndarray) -> tuple[str, str] | None:
    """(kind, message) for an action that is not finite, or lies outside the commandable range by more
    than ACTION_SLACK (it gets clamped); None for one that clamping leaves as it is, or nearly."""
    values = np.asarray(action, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        return "non_finite", f"action {_numbers(values)} is not finite"
    clamped = clamp_action(values)
    beyond_target = float(np.max(np.abs(values[:3] - clamped[:3])))
    if beyond_target > ACTION_SLACK:
        return "out_of_workspace", (
            f"action {_numbers(values)} targets {beyond_target:.3g} m outside the +-{TARGET_LIMIT} m "
            f"workspace (more than {ACTION_SLACK} m): clamped to {_numbers(clamped)}"
        )
    beyond_gripper = abs(float(values[3]) - float(clamped[3]))
    if beyond_gripper > ACTION_SLACK:
        return "gripper_out_of_range", (
            f"action {_numbers(values)} commands the gripper {beyond_gripper:.3g} outside 0..1: "
            f"clamped to {_numbers(clamped)}"
        )
    return None


class SimEnv:
    """One gym-hil env, reset to seeded cube placements and stepped with absolute 4-D actions."""

    def __init__(
        self,
        env_id: str = PICK_CUBE,
        seed: int = 0,
        fast_render: bool = True,
        image_obs: bool = True,
    ) -> None:
        if env_id not in SUPPORTED_ENVS:
            raise ValueError(f"unsupported env {env_id!r}; choose one of {', '.join(SUPPORTED_ENVS)}")
        ensure_offscreen_gl()
        import gym_hil  # noqa: F401  (registers the envs)
        import gymnasium as gym

        kwargs: dict[str, Any] = {"image_obs": image_obs}
        if env_id == PICK_CUBE:
            kwargs["random_block_position"] = True
        self.env_id = env_id
        self.seed = seed
        self.image_obs = image_obs
        self.env: Any = cast(Any, gym.make(env_id, **kwargs).unwrapped)  # the raw MuJoCo env
        self.model = self.env.model
        self.data = self.env.data
        if fast_render and image_obs:
            self._use_fast_render()
        self._block_geom = self._first_block_geom()
        self._world_body = 0
        self.start_tcp = np.zeros(3, dtype=np.float32)
        self._blank = np.zeros((IMAGE_HEIGHT, IMAGE_WIDTH, 3), dtype=np.uint8)

    def _use_fast_render(self) -> None:
        """Drop shadows and MSAA and coarsen visual meshes: ~20x cheaper under software GL.

        At 128x128 the arm, gripper, table and cube stay clearly visible in both cameras.
        """
        import mujoco

        decimate_visual_meshes(self.model, VISUAL_MESH_CELL)
        self.model.vis.quality.shadowsize = 0
        self.model.vis.quality.offsamples = 0
        self.model.light_castshadow[:] = 0
        old = self.env._viewer
        if old is not None and hasattr(old, "close"):
            old.close()
        self.env._viewer = mujoco.Renderer(self.model, height=IMAGE_HEIGHT, width=IMAGE_WIDTH)

    def _first_block_geom(self) -> int:
        import mujoco

        for name in ("block", "block1"):
            gid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, name)
            if gid >= 0:
                return int(gid)
        raise RuntimeError(f"{self.env_id}: no block geom found")

    def reset(self, placement: int) -> Observation:
        """Reset robot and scene; `placement` (with the env seed) fixes the cube position reproducibly."""
        # gym-hil samples block positions from numpy's global RNG: seed it for this placement.
        np.random.seed(np.random.SeedSequence([self.seed, placement]).generate_state(1)[0])
        obs, _ = self.env.reset()
        self.start_tcp = self.tcp().copy()
        return self._observation(obs)

    def tcp(self) -> np.ndarray:
        return np.asarray(self.data.sensor("2f85/pinch_pos").data, dtype=np.float32)

    def step(self, action: np.ndarray) -> Observation:
        """Move towards the absolute target `action` (already validated) by at most MAX_STEP."""
        act = clamp_action(action)
        target = self.start_tcp + act[:3]
        delta = target - self.data.mocap_pos[0]
        norm = float(np.linalg.norm(delta))
        if norm > MAX_STEP:
            delta *= MAX_STEP / norm
        gripper_now = float(self.data.ctrl[self.env._gripper_ctrl_id]) / GRIPPER_COMMAND_MAX
        env_action = np.zeros(7, dtype=np.float32)
        env_action[:3] = delta
        env_action[6] = float(act[3]) - gripper_now
        obs, reward, terminated, _, info = self.env.step(env_action)
        success = bool(info.get("succeed", False))
        result = self._observation(obs)
        result.reward = float(reward)
        result.success = success
        result.failure = bool(terminated and not success)
        result.contact_force = self._world_contact_force()
        return result

    def _observation(self, obs: dict) -> Observation:
        state = np.array(obs["agent_pos"], dtype=np.float32).reshape(STATE_DIM)
        state[STATE_GRIPPER] /= GRIPPER_COMMAND_MAX  # one gripper unit, the action's 0..1
        if self.image_obs:
            front = np.ascontiguousarray(obs["pixels"]["front"], dtype=np.uint8)
            wrist = np.ascontiguousarray(obs["pixels"]["wrist"], dtype=np.uint8)
        else:
            front = wrist = self._blank
        return Observation(state=state, front=front, wrist=wrist, cube_pose=self.cube_pose())

    def cube_pose(self) -> np.ndarray:
        pose = np.empty(CUBE_POSE_DIM, dtype=np.float32)
        pose[:3] = self.data.geom_xpos[self._block_geom]
        import mujoco

        mujoco.mju_mat2Quat(quat := np.empty(4), self.data.geom_xmat[self._block_geom])
        pose[3:] = quat
        return pose

    def _world_contact_force(self) -> float:
        """Largest normal force of a contact between the robot and the world (table/floor)."""
        import mujoco

        worst = 0.0
        force = np.zeros(6)
        for i in range(self.data.ncon):
            con = self.data.contact[i]
            g1, g2 = int(con.geom1), int(con.geom2)
            if self._block_geom in (g1, g2):
                continue
            b1, b2 = self.model.geom_bodyid[g1], self.model.geom_bodyid[g2]
            if (b1 == self._world_body) == (b2 == self._world_body):
                continue  # robot self-contact or world-world
            mujoco.mj_contactForce(self.model, self.data, i, force)
            worst = max(worst, abs(float(force[0])))
        return worst

    def close(self) -> None:
        self.env.close()


NEUTRAL_ACTION = np.zeros(ACTION_DIM, dtype=np.float32)
