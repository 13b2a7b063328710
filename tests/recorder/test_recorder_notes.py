"""EpisodeNotes: reports and annotations meet the writer thread that waits for them."""

from __future__ import annotations

import threading
import time

from sim_teleop.messages import QualityReport, Verdict
from sim_teleop.recorder.notes import EpisodeNotes


def test_a_waiting_writer_wakes_when_its_report_arrives() -> None:
    notes = EpisodeNotes(expects_quality=True)
    threading.Timer(0.1, notes.put_report, [QualityReport(3, 0.9, Verdict.GOOD)]).start()
    report, waited = notes.wait_report(3, timeout_s=10.0)
    assert report is not None and report.episode_index == 3
    assert 0.05 < waited < 5.0  # woken by the report, not by the timeout


def test_no_report_times_out_and_closing_stops_the_wait() -> None:
    notes = EpisodeNotes(expects_quality=True)
    report, waited = notes.wait_report(0, timeout_s=0.2)
    assert report is None and waited >= 0.2
    threading.Timer(0.1, notes.close_quality).start()
    t0 = time.perf_counter()
    assert notes.wait_report(1, timeout_s=10.0)[0] is None
    assert time.perf_counter() - t0 < 5.0
    # Without a quality input nobody waits at all.
    assert EpisodeNotes(expects_quality=False).wait_report(0, timeout_s=10.0)[1] < 1.0


def test_notes_after_the_save_name_the_episode() -> None:
    notes = EpisodeNotes(expects_quality=True)
    assert notes.put_annotation(5, {"defects": ["blur"]}) is None  # before the save: kept for it
    assert notes.annotation(5) == {"defects": ["blur"]}
    notes.saved(5, 2)
    assert notes.put_report(QualityReport(5, 0.4, Verdict.BAD)) == 2  # late: goes to episode 2
    assert notes.put_annotation(5, {"x": 1}) == 2
    assert notes.put_report(QualityReport(6, 0.4, Verdict.BAD)) is None
