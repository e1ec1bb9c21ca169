"""The fault run's checks find what they look for: a lost, a repeated or a reordered event, a
half-written case, a feed that skips, repeats or reorders (pure, on made-up records)."""

from __future__ import annotations

from typing import Any

from bench.faults.checks import Sign, Stored, check_cases, check_feed

PATH: list[Sign] = [("case.submitted", None), ("task.claimed", "a"), ("task.approved", "a")]


def stored(*signs: Sign, last_seq: int | None = None, notes: int = 1) -> Stored:
    events = [(n, kind, task, {}) for n, (kind, task) in enumerate(signs, 1)]
    return Stored("completed", len(events) if last_seq is None else last_seq, 0, events, notes)


def test_each_case_is_held_to_the_fault_free_record_of_its_path() -> None:
    outage: list[tuple[int, str, str | None, dict[str, Any]]] = [
        (2, "incident.opened", None, {"kind": "store_unavailable"}),
        (3, "incident.resolved", None, {"kind": "store_unavailable"}),
    ]
    survived = stored(*PATH)
    survived.events[1:1] = outage
    survived.events = [(n, *rest) for n, (_, *rest) in enumerate(survived.events, 1)]
    survived.last_seq = len(survived.events)
    cases = {
        "same": stored(*PATH),
        "outage": survived,
        "lost": stored(PATH[0], PATH[2]),
        "twice": stored(PATH[0], PATH[1], PATH[1], PATH[2]),
        "swapped": stored(PATH[0], PATH[2], PATH[1]),
        "half": stored(*PATH, last_seq=2),
        "told twice": stored(*PATH, notes=2),
    }
    found = check_cases(cases, dict.fromkeys(cases, "p"), {"p": PATH}, {"p": 1}, "completed")
    assert found.matching == 4  # same, outage, half, told twice
    assert (found.lost, found.duplicated, found.reordered) == (1, 1, 1)
    assert (found.half_written, found.notifications_off) == (1, 1)
    assert (found.outage_events, found.outage_cases) == (2, 1)
    assert found.ended == {"completed": 7}


def test_a_clock_card_raised_in_wall_time_is_compared_apart_but_only_once() -> None:
    warned = stored(*PATH)
    card = (4, "deadline.warning", "a", {"clock": "task:a"})
    warned.events.append(card)
    warned.events.append((5, *card[1:]))
    warned.last_seq = 5
    found = check_cases({"w": warned}, {"w": "p"}, {"p": PATH}, {"p": 1}, "completed")
    assert found.matching == 1
    assert (found.cards, found.cards_repeated) == (2, 1)


def entry(id: int, case: str, seq: int) -> dict[str, Any]:
    return {"id": id, "case_id": case, "seq": seq}


def test_the_feed_must_give_every_stored_event_once_in_order() -> None:
    stored_events = {("a", 1), ("a", 2), ("b", 1), ("b", 2)}
    whole = [entry(1, "a", 1), entry(2, "b", 1), entry(4, "a", 2), entry(5, "b", 2)]
    found = check_feed(whole, stored_events)
    assert (found.missing, found.duplicated, found.unknown, found.out_of_order) == (0, 0, 0, 0)
    assert (found.gaps, found.first_id, found.last_id) == (1, 1, 5)
    broken = [entry(1, "a", 2), entry(2, "a", 1), entry(3, "a", 1), entry(4, "c", 1)]
    found = check_feed(broken, stored_events)
    assert (found.missing, found.duplicated, found.unknown) == (2, 1, 1)
    assert found.out_of_order == 2  # a/1 after a/2, twice
