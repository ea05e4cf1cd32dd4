"""Sequencer: concurrent messages come out whole, one after another."""

from __future__ import annotations

from troupe.adapters._sequence import Sequencer


def test_the_first_message_to_write_has_the_floor_and_the_others_wait_whole() -> None:
    seq: Sequencer[str] = Sequencer()
    assert seq.add("a", "a1") == ["a1"]
    assert seq.add("b", "b1") == []
    assert seq.add("a", "a2") == ["a2"]
    assert seq.add(None, "note") == []  # of no message: after the messages before it
    assert seq.add("c", "c1") == []
    assert seq.end("b") == []  # b waits, whole, for a
    assert seq.end("a") == ["b1", "note", "c1"]  # c, still open, now has the floor
    assert seq.add("c", "c2") == ["c2"]
    assert seq.end("c") == []
    assert seq.add(None, "last") == ["last"]


def test_drain_gives_back_everything_held() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.add("a", "a1")
    seq.add("b", "b1")
    assert seq.drain() == ["b1"]
    assert seq.add("b", "b2") == ["b2"]
