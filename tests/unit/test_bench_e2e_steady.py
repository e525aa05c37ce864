"""`bench e2e` at a person's pace reports the figures of the run's middle, where every customer was talking."""

from __future__ import annotations

from comanda.bench_channel import _Customer, _steady


def customer(first: float, answers: list[tuple[float, float]]) -> _Customer:
    return _Customer(phone=f"+55{first}", script=[], first_sent=first, answers=answers)


def test_the_ramp_and_the_tail_are_left_out() -> None:
    people = {
        "a": customer(0.0, [(1.0, 900.0), (5.0, 400.0), (12.0, 500.0), (30.0, 3000.0)]),
        # the last to arrive (at 4 s) and the first to finish (its last reply at 20 s): the window is 4-20 s
        "b": customer(4.0, [(4.5, 450.0), (11.0, 600.0), (20.0, 700.0)]),
    }
    rate, latencies = _steady(people)
    assert sorted(latencies) == [400.0, 450.0, 500.0, 600.0, 700.0]  # not the ramp's 900 ms nor the tail's 3 s
    assert rate == 5 / 16 * 60


def test_a_window_too_short_says_nothing() -> None:
    people = {"a": customer(0.0, [(2.0, 500.0)]), "b": customer(1.0, [(3.0, 500.0)])}
    assert _steady(people) == (0.0, [])
