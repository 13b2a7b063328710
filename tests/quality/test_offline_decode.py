"""Offline decoding for the scorer: grey levels straight from the luma plane agree with grey(RGB) on real
decoded frames; seeking to sampled keyframes picks the same frames as reading the whole stream; the
dataset reader's row slices and reused video files score an episode like a full decode does."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from synthetic_images import box_blur

from sim_teleop.dataset.reader import DatasetReader, VideoFile, decode_sparse, frame_grey
from sim_teleop.images import grey
from sim_teleop.quality.config import QualityConfig
from sim_teleop.quality.metrics import CameraMeter, Travel
from sim_teleop.quality.offline import offline_config, score_dataset, score_episode, tail_window
from sim_teleop.quality.scorer import EpisodeScorer
from sim_teleop.quality.visual import frame_difference, image_stats

FPS = 10
SIZE = 128


def scene(i: int) -> np.ndarray:
    """Checker tiles, a saturated red box and a white box (clipped after over-exposure), moving 2 px/frame."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    tiles = (((xx + 2 * i) // 8 + yy // 8) % 2) * 60 + 45
    img = np.stack([tiles, tiles * 0.9, tiles * 0.8], axis=-1)
    x = (20 + 2 * i) % 90
    img[40:70, x : x + 25] = [220, 30, 40]
    img[90:110, 100 - x // 2 : 125 - x // 2] = [235, 235, 235]
    return img.clip(0, 255).astype(np.uint8)


VARIANTS = {
    "clean": lambda img: img,
    "dark": lambda img: (img * 0.25).astype(np.uint8),
    "overexposed": lambda img: np.clip(img.astype(np.float32) * 2.5 + 80, 0, 255).astype(np.uint8),
    "blur": lambda img: box_blur(img, 2),
    # milder ones, inside the metrics' ramps
    "dim": lambda img: (img * 0.5).astype(np.uint8),
    "bright": lambda img: np.clip(img.astype(np.float32) * 1.5 + 40, 0, 255).astype(np.uint8),
    "soft": lambda img: box_blur(img, 1),
}


def encode(path: Path, images: list[np.ndarray], codec: str = "libsvtav1", g: int = 2) -> Path:
    """Encode like the recorder (AV1, yuv420p, CRF 30, GOP g); mjpeg gives full-range yuvj420p."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        assert isinstance(stream, av.VideoStream)
        stream.height, stream.width = images[0].shape[:2]
        if codec == "mjpeg":
            stream.pix_fmt = "yuvj420p"
        else:
            stream.pix_fmt = "yuv420p"
            stream.options = {"g": str(g), "crf": "30", "preset": "12"}
        for img in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def decode_all(path: Path) -> tuple[list[av.VideoFrame], list[bool]]:
    """Every frame in order and whether its packet is a keyframe (the reference for sampling)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keys = [bool(p.is_keyframe) for p in container.demux(stream) if p.pts is not None]
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == len(keys)
    return frames, keys


@pytest.mark.parametrize("codec", ["libsvtav1", "mjpeg"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_grey_from_luma_agrees_with_grey_of_rgb(tmp_path: Path, codec: str, variant: str) -> None:
    """The luma plane and grey(rgb24) of one decoded frame differ by the RGB conversion's rounding
    (about 1 grey level darker), and the luma plane is the closer to the rendered frame's grey - the grey
    levels the live scorer sees and the thresholds were calibrated on."""
    rendered = [VARIANTS[variant](scene(i)) for i in range(12)]
    frames, _ = decode_all(encode(tmp_path / "v.mp4", rendered, codec))
    assert frames[0].format.name == ("yuvj420p" if codec == "mjpeg" else "yuv420p")
    th = offline_config(QualityConfig()).thresholds
    meters = {k: CameraMeter("front", th) for k in ("luma", "rgb", "source")}
    previous: dict[str, np.ndarray] = {}
    for k, frame in enumerate(frames):
        g = {
            "luma": frame_grey(frame),
            "rgb": grey(frame.to_ndarray(format="rgb24")),
            "source": grey(rendered[k]),
        }
        assert g["luma"].dtype == np.float32 and g["luma"].shape == (SIZE, SIZE)
        assert g["luma"].min() >= 0.0 and g["luma"].max() <= 255.0
        assert np.abs(g["luma"] - g["rgb"]).mean() < 2.0
        assert np.abs(g["luma"] - g["source"]).mean() <= np.abs(g["rgb"] - g["source"]).mean() + 0.05
        st = {name: image_stats(img) for name, img in g.items()}
        assert abs(st["luma"].brightness - st["rgb"].brightness) < 2.0
        assert st["luma"].sharpness == pytest.approx(st["rgb"].sharpness, rel=0.03)
        assert (
            abs(st["luma"].clipped - st["source"].clipped)
            <= abs(st["rgb"].clipped - st["source"].clipped) + 0.005
        )
        if previous:
            d_luma = frame_difference(g["luma"], previous["luma"])
            assert d_luma == pytest.approx(frame_difference(g["rgb"], previous["rgb"]), rel=0.1, abs=0.05)
        previous = g
        for name, meter in meters.items():
            meter.add(g[name], k, Travel(0.05 * k, 0.05 * k, 0.0))
    raw = {name: meter.raw() for name, meter in meters.items()}
    for key in ("dark", "overexposed", "blur", "frozen"):
        luma, rgb, source = raw["luma"][key], raw["rgb"][key], raw["source"][key]
        assert abs(luma - rgb) <= 0.06, (key, raw)
        assert abs(luma - source) <= abs(rgb - source) + 0.01, (key, raw)


def test_grey_from_a_padded_luma_plane(tmp_path: Path) -> None:
    """A width that is not the plane's line size: the padding is cut off."""
    frames, _ = decode_all(encode(tmp_path / "v.mp4", [scene(i)[:74, :100] for i in range(3)]))
    assert frames[0].planes[0].line_size > 100
    for frame in frames:
        g = frame_grey(frame)
        assert g.shape == (74, 100)
        assert np.abs(g - grey(frame.to_ndarray(format="rgb24"))).mean() < 2.0


def test_grey_of_a_frame_without_luma_plane_is_grey_of_its_rgb() -> None:
    img = scene(3)
    frame = av.VideoFrame.from_ndarray(img, format="rgb24")
    np.testing.assert_array_equal(frame_grey(frame), grey(img))


def reference_samples(
    keys: list[bool], num_frames: int, stride: int, paired: set[int] | None = None
) -> list[int]:
    """The sampling rule read off the whole stream: a keyframe at or after each next sample point, and
    the frame after it (if the keyframe is in `paired`, when given); then the same at or after the
    second-to-last frame, unless already covered."""
    out: list[int] = []
    next_sample, take_next, last_key = 0, -1, -1
    for idx in range(num_frames):
        if idx == take_next:
            out.append(idx)
        elif keys[idx] and idx >= next_sample:
            out.append(idx)
            take_next = idx + 1 if paired is None or idx in paired else -1
            next_sample, last_key = idx + max(stride, 2), idx
    end = num_frames - 2
    if out and end > last_key + 1:
        tail = next((i for i in range(end, num_frames) if keys[i]), None)
        if tail is not None:
            with_next = paired is None or tail in paired
            out += [
                i for i in (tail, tail + 1) if i < num_frames and i > out[-1] and (i == tail or with_next)
            ]
    return out


SPANS = [(0, 23), (23, 50), (50, 70)]  # three episodes in one video file


@pytest.mark.parametrize("g", [2, 5])
def test_seeking_samples_the_frames_a_full_read_would(tmp_path: Path, g: int) -> None:
    path = encode(tmp_path / "v.mp4", [scene(i) for i in range(70)], g=g)
    frames, keys = decode_all(path)
    video = VideoFile(path)  # one open file for every episode in it, in any order
    try:
        for stride in (1, 2, 3, 8):
            for a, b in [*SPANS, SPANS[0]]:
                t0 = a / FPS
                expected = reference_samples(keys[a:b], b - a, stride)
                grey_samples = video.sample(t0, FPS, b - a, stride)
                rgb_samples = video.sample(t0, FPS, b - a, stride, rgb=True)
                assert [i for i, _ in grey_samples] == expected, (stride, a, b)
                assert [i for i, _ in rgb_samples] == expected
                for (i, g_img), (_, rgb) in zip(grey_samples, rgb_samples, strict=True):
                    np.testing.assert_array_equal(rgb, frames[a + i].to_ndarray(format="rgb24"))
                    np.testing.assert_array_equal(g_img, frame_grey(frames[a + i]))
    finally:
        video.close()
    once = decode_sparse(path, SPANS[1][0] / FPS, FPS, SPANS[1][1] - SPANS[1][0], 8)
    assert [i for i, _ in once] == reference_samples(keys[23:50], 27, 8)


# --- a small v3.0 dataset: two data files of two episodes each, one video file per camera ----------------

EPISODES = [(0, 23), (23, 50), (50, 61), (61, 75)]  # global frame ranges
DATA_FILES = [0, 0, 1, 1]
CAMERAS = ("front", "wrist")


def state_action(n_total: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    state = rng.normal(0.0, 0.01, (n_total, 18)).astype(np.float32)
    state[:, 15:18] += np.linspace([0.3, 0.0, 0.2], [0.6, 0.1, 0.3], n_total).astype(np.float32)
    action = np.zeros((n_total, 4), np.float32)
    action[:, :3] = state[:, 15:18] - state[:1, 15:18]
    return state, action


def write_dataset(root: Path, meta_rows: str = "exact") -> tuple[np.ndarray, np.ndarray]:
    """`meta_rows`: the episodes' dataset_from/to_index as lerobot writes them ("exact"), all shifted
    (files whose rows start elsewhere: still consistent) or "wrong" (episode 1 starts 2 rows late)."""
    n_total = EPISODES[-1][1]
    state, action = state_action(n_total)
    info = {
        "codebase_version": "v3.0",
        "fps": FPS,
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {
            "observation.state": {"dtype": "float32", "shape": [18]},
            "action": {"dtype": "float32", "shape": [4]},
            **{f"observation.images.{c}": {"dtype": "video", "shape": [SIZE, SIZE, 3]} for c in CAMERAS},
        },
    }
    (root / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info))
    for c, cam in enumerate(CAMERAS):
        (root / "videos" / f"observation.images.{cam}" / "chunk-000").mkdir(parents=True)
        images = [VARIANTS["blur" if c else "clean"](scene(i)) for i in range(n_total)]
        encode(root / "videos" / f"observation.images.{cam}" / "chunk-000" / "file-000.mp4", images)
    (root / "data" / "chunk-000").mkdir(parents=True)
    for f in sorted(set(DATA_FILES)):
        eps = [e for e, df in enumerate(DATA_FILES) if df == f]
        rows = range(EPISODES[eps[0]][0], EPISODES[eps[-1]][1])
        episode_index = [e for e in eps for _ in range(*EPISODES[e])]
        table = pa.table(
            {
                "index": list(rows),
                "episode_index": episode_index,
                "observation.state": pa.FixedSizeListArray.from_arrays(
                    state[rows.start : rows.stop].ravel(), 18
                ),
                "action": pa.FixedSizeListArray.from_arrays(action[rows.start : rows.stop].ravel(), 4),
                "next.success": [
                    e == 1 and i == EPISODES[e][1] - 1 for e in eps for i in range(*EPISODES[e])
                ],
            }
        )
        pq.write_table(table, root / "data" / "chunk-000" / f"file-{f:03d}.parquet")
    meta: dict[str, list] = {"episode_index": [], "length": [], "dataset_from_index": []}
    meta.update({"dataset_to_index": [], "data/chunk_index": [], "data/file_index": []})
    for cam in CAMERAS:
        for k in ("chunk_index", "file_index", "from_timestamp", "to_timestamp"):
            meta[f"videos/observation.images.{cam}/{k}"] = []
    for e, (a, b) in enumerate(EPISODES):
        meta["episode_index"].append(e)
        meta["length"].append(b - a)
        shift = 100 if meta_rows == "shifted" else 0
        meta["dataset_from_index"].append(a + shift + (2 if meta_rows == "wrong" and e == 1 else 0))
        meta["dataset_to_index"].append(b + shift)
        meta["data/chunk_index"].append(0)
        meta["data/file_index"].append(DATA_FILES[e])
        for cam in CAMERAS:
            meta[f"videos/observation.images.{cam}/chunk_index"].append(0)
            meta[f"videos/observation.images.{cam}/file_index"].append(0)
            meta[f"videos/observation.images.{cam}/from_timestamp"].append(a / FPS)
            meta[f"videos/observation.images.{cam}/to_timestamp"].append(b / FPS)
    pq.write_table(pa.table(meta), root / "meta" / "episodes" / "chunk-000" / "file-000.parquet")
    return state, action


def reference_report(root: Path, e: int, scorer: EpisodeScorer, stride: int):
    """Score episode e from every decoded frame: the sampled ones picked by the stream-order rule."""
    state, action = state_action(EPISODES[-1][1])
    a, b = EPISODES[e]
    # the frame after a keyframe is decoded where the TCP moved enough for the consecutive frozen check
    tcp = state[a:b, 15:18].astype(np.float64)
    steps = np.linalg.norm(tcp[1:] - tcp[:-1], axis=1)
    paired = {t for t in range(b - a - 1) if steps[t] > scorer.config.thresholds["frozen_motion"]}
    assert 0 < len(paired) < b - a - 1  # both kinds of keyframe occur
    images: dict[int, dict[str, np.ndarray]] = {}
    for cam in CAMERAS:
        frames, keys = decode_all(
            root / "videos" / f"observation.images.{cam}" / "chunk-000" / "file-000.mp4"
        )
        for i in reference_samples(keys[a:b], b - a, stride, paired):
            images.setdefault(i, {})[cam] = frame_grey(frames[a + i])
        tail = tail_window(b - a, stride)  # the episode's last part, sampled again more densely
        if tail is not None:
            start, tail_stride = tail
            tail_paired = {t - start for t in paired if t >= start}
            for i in reference_samples(keys[a + start : b], b - a - start, tail_stride, tail_paired):
                images.setdefault(start + i, {}).setdefault(cam, frame_grey(frames[a + start + i]))
    acc = scorer.new_episode()
    for t in range(b - a):
        acc.add_frame(state[a + t], action[a + t], success=False, images=images.get(t), frame=t)
    return scorer.report(e, acc, success=e == 1)


@pytest.mark.parametrize("meta_rows", ["exact", "shifted", "wrong"])
def test_reader_scores_each_episode_like_a_full_decode(tmp_path: Path, meta_rows: str) -> None:
    root = tmp_path / "ds"
    state, action = write_dataset(root, meta_rows)
    cfg = offline_config(QualityConfig())
    ours, ref = EpisodeScorer(cfg), EpisodeScorer(cfg)
    reports = []
    with DatasetReader(root) as reader:
        assert len(reader) == len(EPISODES)
        for e, (a, b) in enumerate(EPISODES):
            ep = reader.episode(e)
            np.testing.assert_array_equal(ep.state, state[a:b].astype(np.float64))
            np.testing.assert_array_equal(ep.action, action[a:b].astype(np.float64))
            assert ep.success == (e == 1)
            got = score_episode(reader, e, ours, stride=8)
            assert got == reference_report(root, e, ref, stride=8)
            assert got.metrics["front.images"] > 0 and got.metrics["wrist.images"] > 0
            reports.append(got)
    assert score_dataset(root, EpisodeScorer(cfg), stride=8) == reports
