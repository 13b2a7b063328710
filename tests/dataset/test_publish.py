"""A commit exchanges the whole root: what others write there meanwhile must survive it."""

from __future__ import annotations

from pathlib import Path

import pytest
from recorded import lerobot_view, make_cfg, record, stage_episode

from sim_teleop.dataset.publish import publish


@pytest.mark.slow  # a real lerobot dataset and commit: ~12 s
def test_a_file_written_into_the_root_during_a_commit_is_kept(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    record(make_cfg(root, num_episodes=9), [3])
    stage_episode(root, 4)

    def meanwhile(_tree: Path) -> None:  # the eval's policy node writes its summary as the episode commits
        (root / "eval_summary.json").write_text('{"episodes": 2}')

    publish(root, before_visible=meanwhile)
    assert (root / "eval_summary.json").read_text() == '{"episodes": 2}'
    assert lerobot_view(root) == (2, 7, 2, 7)
