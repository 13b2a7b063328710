"""The recorder's configuration: the run file (`configs/record.json`; another one with RECORD_CONFIG=path,
as the autopilot and eval dataflows do), then environment variables for what users change often.

Keys accepted in the JSON file (all optional; defaults in brackets). The first seven are the run-level
keys every node reads (`RunConfig`):

- `repo_id` ["local/sim_teleop_pick"]               env RECORD_REPO_ID
- `root` [outputs/record/<name part of repo_id>]   env RECORD_ROOT (relative: from the repository root)
- `task` ["Pick up the cube."]                      env RECORD_TASK
- `num_episodes` [10]: stop the dataflow once the dataset holds this many   env RECORD_NUM_EPISODES
- `fps` [10]: the frame rate of the whole run (sim, recorder, expert, eval)   env SIM_FPS
- `resume` [false]: append to an existing dataset  env RESUME_RECORDING=1
- `sim_env` ["gym_hil/PandaPickCubeBase-v0"]: the env the sim runs; stored per episode   env SIM_ENV
- `allow_new_task` [false]: let a resumed dataset take a second task (a multi-task dataset); every
  other difference (env, codec, fps, robot type, features) is always refused   env RECORD_ALLOW_NEW_TASK=1
- `robot_type` ["franka_panda_gym_hil"]
- `video`: {`codec` ["libsvtav1"; "h264" also works], `crf` [30], `gop` [2],
            `streaming` [true; false = lerobot's PNG-then-encode, slow, for comparisons]}
- `writer` ["thread"]: "thread" saves off the receive loop; "inline" blocks it like lerobot's script
- `quality`: {`policy` ["flag": keep every episode, store the verdict | "discard": drop episodes the
              scorer judged bad (its threshold lives in configs/quality.json)],
              `timeout_s` [60: how long a finished episode waits for its report before it is saved
              without one, loudly]}   env RECORD_QUALITY_POLICY
- `rerun` ["auto"; spawn/save/off]                  env RECORD_RERUN
- `rrd_path` [null; <root>.rrd when rerun=save and unset]   env RECORD_RRD_PATH
- `rerun_port` [9876, rerun's default: an open viewer there is reused]   env RECORD_RERUN_PORT
- `intervention` [false; configs/eval.json: true]: store the per-frame bool `intervention` (a person or the
  simulated corrector drove the frame; a resumed dataset keeps its own layout)   env RECORD_INTERVENTION
- `compact_at_end` [false]: pack the dataset into lerobot's file sizes at the end of a session
  (scripts/compact_dataset.py does it later; recording resumes on a packed dataset)   env RECORD_COMPACT=1
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim_teleop.config import DEFAULT_RUN_CONFIG, RunConfig, setting
from sim_teleop.dataset.store import VideoSettings

DEFAULT_CONFIG = DEFAULT_RUN_CONFIG
POLICIES = ("flag", "discard")
WRITERS = ("thread", "inline")
RERUN_MODES = ("auto", "spawn", "save", "off")


@dataclass(frozen=True)
class RecordConfig(RunConfig):
    """The run-level settings plus the recorder's own (keys of the same file)."""

    robot_type: str = "franka_panda_gym_hil"
    allow_new_task: bool = setting(False, env="RECORD_ALLOW_NEW_TASK")  # resume may add a second task
    video_codec: str = setting("libsvtav1", key="video.codec")
    video_crf: int = setting(30, key="video.crf")
    video_gop: int = setting(2, key="video.gop")
    video_streaming: bool = setting(True, key="video.streaming")
    writer: str = setting("thread", choices=WRITERS)
    quality_policy: str = setting("flag", key="quality.policy", env="RECORD_QUALITY_POLICY", choices=POLICIES)
    quality_timeout_s: float = setting(60.0, key="quality.timeout_s")
    rerun: str = setting("auto", env="RECORD_RERUN", choices=RERUN_MODES)
    rrd_path: str | None = setting(None, env="RECORD_RRD_PATH")
    rerun_port: int = setting(9876, env="RECORD_RERUN_PORT", min=1)
    intervention: bool = setting(False, env="RECORD_INTERVENTION")  # the per-frame takeover flag (eval)
    compact_at_end: bool = setting(False, env="RECORD_COMPACT")  # pack the dataset when the session ends
    debug_frames: bool = setting(False, env="RECORD_DEBUG_FRAMES")  # one console line per frame received
    stats_path: str = setting("", env="RECORD_STATS_PATH")  # boundary timings as JSON (bench_recorder.py)

    @property
    def video(self) -> VideoSettings:
        return VideoSettings(
            codec=self.video_codec, crf=self.video_crf, g=self.video_gop, streaming=self.video_streaming
        )

    def validate(self) -> None:
        super().validate()
        rrd = self.rrd_path or None
        if self.rerun == "save" and not rrd:
            rrd = str(Path(self.root).with_suffix(".rrd"))
        object.__setattr__(self, "rrd_path", rrd)
