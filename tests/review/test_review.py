"""The review page without a browser: what it reads of a root, bad roots, the lock, scoring, video ranges."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from review_data import EPISODES, record_dataset

from sim_teleop.dataset.lock import RootInUse, RootLock
from sim_teleop.dataset.publish import pending_path
from sim_teleop.dataset.reader import dataset_files
from sim_teleop.dataset.sidecar import SIDECAR_RELPATH
from sim_teleop.review.app import ReviewApp, resume_command
from sim_teleop.review.episode import abrupt_window, standstill, worst_stretch
from sim_teleop.review.lockstate import lock_holder
from sim_teleop.review.model import SCORES_RELPATH
from sim_teleop.review.server import ReviewServer


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_dataset(tmp_path_factory.mktemp("review") / "ds")


@pytest.fixture
def root(recorded: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ds"
    shutil.copytree(recorded, copy)
    return copy


def test_rows_carry_scores_reasons_videos_and_spans(root: Path) -> None:
    st = ReviewApp(root).state()
    assert st["problem"] is None and st["read_only"] is None and st["cameras"] == ["front", "wrist"]
    rows = st["episodes"]
    assert [r["i"] for r in rows] == list(range(len(EPISODES)))
    assert [r["length"] for r in rows] == [e[0] for e in EPISODES]
    assert [r["reasons"] for r in rows] == [e[2] for e in EPISODES]
    assert [r["score"] for r in rows] == [e[1] for e in EPISODES]
    assert rows[1]["verdict"] == "bad" and rows[2]["success"] is False and rows[1]["scored_by"] == "recorder"
    span = rows[2]["videos"]["front"]
    assert (root / span["file"]).is_file() and span["to"] - span["from"] == pytest.approx(1.2, abs=0.05)
    # A poll that knows the version gets no episodes again: the page redraws only on change.
    app = ReviewApp(root)
    first = app.state()
    assert "episodes" not in app.state(first["version"])


def test_bad_roots_say_one_line_and_change_nothing(root: Path, tmp_path: Path) -> None:
    missing = ReviewApp(tmp_path / "nope").state()
    assert "does not exist" in missing["problem"] and missing["episodes"] == []
    (tmp_path / "empty").mkdir()
    assert "not a LeRobotDataset" in ReviewApp(tmp_path / "empty").state()["problem"]

    lines = (root / SIDECAR_RELPATH).read_text().splitlines()
    lines[2] = '{"episode_index": 2, "quality": {'  # cut short
    (root / SIDECAR_RELPATH).write_text("\n".join(lines) + "\n")
    before = dataset_files(root)
    st = ReviewApp(root).state()
    assert st["problem"] is None and any("line 3" in n for n in st["notes"])
    assert [r["score"] for r in st["episodes"]][:2] == [0.95, 0.30] and st["episodes"][2]["score"] is None
    assert dataset_files(root) == before


def test_a_root_needing_repair_is_offered_repair_not_repaired(root: Path) -> None:
    pending_path(root).mkdir()  # what a commit killed before its exchange leaves
    app = ReviewApp(root)
    st = app.state()
    assert st["offer"] == "repair" and "interrupted recording" in st["read_only"]
    assert pending_path(root).exists(), "nothing is repaired silently"
    assert not app.delete([0])["ok"] and len(app.state()["episodes"]) == len(EPISODES)
    result = app.repair()
    assert result["ok"], result
    assert not pending_path(root).exists() and app.state()["offer"] is None


def test_no_videos_and_zero_episodes(root: Path, tmp_path: Path) -> None:
    info_path = root / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"] = {k: v for k, v in info["features"].items() if v.get("dtype") != "video"}
    info_path.write_text(json.dumps(info))
    st = ReviewApp(root).state()
    assert st["cameras"] == [] and any("no videos" in n for n in st["notes"])
    assert len(st["episodes"]) == len(EPISODES) and st["episodes"][0]["videos"] == {}

    empty = tmp_path / "zero"
    (empty / "meta").mkdir(parents=True)
    (empty / "meta" / "info.json").write_text(json.dumps({**info, "total_episodes": 0, "total_frames": 0}))
    st = ReviewApp(empty).state()
    assert st["problem"] is None and st["episodes"] == [] and "holds 0 episodes" in st["notes"][0]


def test_a_held_lock_is_seen_without_taking_it(root: Path) -> None:
    assert lock_holder(root) is None
    with RootLock(root, "a recorder"):
        assert "a recorder" in (lock_holder(root) or "")
        app = ReviewApp(root)
        st = app.state()
        assert st["read_only"].startswith("read-only:") and "a recorder" in st["read_only"]
        before = dataset_files(root)
        result = app.delete([1])
        assert not result["ok"] and "in use" in result["text"]
        assert dataset_files(root) == before
    assert lock_holder(root) is None


def test_polling_never_holds_the_lock(root: Path) -> None:
    """A recorder may start at any moment the page polls: it must always get the lock."""
    app = ReviewApp(root)
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            app.state()

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        for _ in range(300):
            try:
                RootLock(root, "a recorder").acquire().release()
            except RootInUse:
                pytest.fail("the page's poll held the root's lock")
    finally:
        stop.set()
        thread.join()


def test_worst_stretch_is_where_the_traces_show_it() -> None:
    t = np.arange(40)
    still = np.stack([np.where(t < 10, t * 0.02, np.where(t < 25, 0.2, 0.2 + (t - 25) * 0.02))] * 3, axis=1)
    assert standstill(still, fps=10) == (10, 25)
    action = np.zeros((40, 4))
    action[:, 0] = np.linspace(0, 1, 40)
    action[30, 1] = 1.0  # one spike
    lo, hi = abrupt_window(action, fps=10) or (0, 0)
    assert lo <= 30 <= hi and hi - lo <= 12
    info = {
        "features": {"observation.state": {"names": ["tcp.x", "tcp.y", "tcp.z"]}, "action": {"names": []}}
    }
    assert worst_stretch(still, action, 10, info, {"idle": 0.1, "jitter": 0.9})["from"] == 10
    assert "camera" in worst_stretch(still, action, 10, info, {"front.dark": 0.0})["why"]


def test_resume_command_names_root_repo_and_target(tmp_path: Path) -> None:
    cmd = resume_command(tmp_path / "my ds", "local/x", 7)
    assert cmd.startswith("RESUME_RECORDING=1 RECORD_ROOT=") and "'" in cmd  # quoted: a space in the path
    assert "RECORD_REPO_ID=local/x RECORD_NUM_EPISODES=7 dora run dataflow-record.yaml" in cmd


def test_offline_scores_on_demand_kept_only_when_asked(root: Path) -> None:
    (root / SIDECAR_RELPATH).unlink()
    app = ReviewApp(root)
    assert all(r["score"] is None for r in app.state()["episodes"])
    assert app.score()["ok"]
    assert app.job is not None
    app.job.join(120)
    st = app.state()
    assert st["scoring"]["finished"] and st["scoring"]["error"] is None, st["scoring"]
    assert st["scoring"]["done"] == st["scoring"]["total"] == len(EPISODES)
    assert all(r["score"] is not None and r["scored_by"] == "offline (not kept)" for r in st["episodes"])
    assert not (root / SCORES_RELPATH).exists(), "nothing is written unless asked"
    assert app.keep_scores()["ok"]
    rows = ReviewApp(root).state()["episodes"]
    assert all(r["scored_by"] == "offline (kept)" for r in rows)
    assert [r["score"] for r in rows] == [r["score"] for r in st["episodes"]]


@pytest.fixture
def served(root: Path) -> Iterator[ReviewServer]:
    server = ReviewServer(ReviewApp(root)).start()
    yield server
    server.close()


def test_videos_are_served_as_they_are_with_ranges(served: ReviewServer, root: Path) -> None:
    rel = served.app.state()["episodes"][0]["videos"]["front"]["file"]
    data = (root / rel).read_bytes()
    req = urllib.request.Request(served.url + "video/" + rel, headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(req) as response:
        assert response.status == 206 and response.read() == data[10:20]
        assert response.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    with urllib.request.urlopen(served.url + "video/" + rel) as response:
        assert response.read() == data
    for bad in ("video/../meta/info.json", "video/%2e%2e/meta/info.json", "video/meta/info.json"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(served.url + bad)
        assert err.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(served.url + "api/episode/99")
    assert err.value.code == 404 and "episode 99" in json.loads(err.value.read())["text"]


@pytest.mark.dataflow  # starts a Python subprocess
def test_cli_prints_the_url_and_serves(root: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "sim_teleop.launch.console", "review", str(root), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "api/state") as response:
                    assert len(json.load(response)["episodes"]) == len(EPISODES)
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(10)


def test_intervention_column_becomes_a_per_episode_fraction(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim_teleop.review.model import intervention_fractions

    (tmp_path / "data" / "chunk-000").mkdir(parents=True)
    table = pa.table(
        {
            "episode_index": [0, 0, 0, 0, 1, 1],
            "intervention": [[False], [True], [True], [False]] + [[False]] * 2,
        }
    )
    pq.write_table(table, tmp_path / "data" / "chunk-000" / "file-000.parquet")
    (tmp_path / "meta").mkdir()
    info = {"total_episodes": 2, "features": {"intervention": {"dtype": "bool", "shape": [1]}}}
    (tmp_path / "meta" / "info.json").write_text(json.dumps(info))
    assert intervention_fractions(tmp_path, info) == {0: 0.5, 1: 0.0}
    assert intervention_fractions(tmp_path, {"features": {}}) == {}


def test_curation_only_from_the_page_itself(served: ReviewServer, root: Path) -> None:
    """A cross-site form (text/plain, another Origin) cannot delete episodes through the local server."""
    before = dataset_files(root)
    for headers in (
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/json", "Origin": "http://evil"},
    ):
        req = urllib.request.Request(served.url + "api/delete", data=b'{"indices": [0]}', headers=headers)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == 403
    assert dataset_files(root) == before


def test_filtered_copy_leaves_the_root_as_it_was(root: Path, tmp_path: Path) -> None:
    from lerobot.datasets import LeRobotDataset

    app = ReviewApp(root, "test/review")
    app.state()
    before = dataset_files(root)
    result = app.copy([1, 3], str(tmp_path / "kept"))
    assert result["ok"], result
    assert dataset_files(root) == before
    copy = LeRobotDataset("test/review", root=tmp_path / "kept")
    assert [int(n) for n in copy.meta.episodes["length"]] == [EPISODES[i][0] for i in (0, 2, 4)]
    assert not app.copy([1], str(tmp_path / "kept"))["ok"], "an existing root is never overwritten"
