"""The benchmarks' shared timing helpers: steps taken in turns, and the median ratio with its interval."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from results_record import alternating_runs, median_ratio


def test_runs_take_turns_and_every_other_round_reverses_the_order():
    calls = []
    seconds = alternating_runs({name: (lambda name=name: calls.append(name)) for name in "abc"}, rounds=3)
    assert calls == list("abccbaabc")
    assert {name: len(times) for name, times in seconds.items()} == {"a": 3, "b": 3, "c": 3}
    assert all(t >= 0 for times in seconds.values() for t in times)


def test_the_median_ratio_is_of_the_rounds_ratios_with_an_interval_around_it():
    slow_spell = [1.0, 1.0, 3.0, 3.0, 1.0, 1.0, 1.0]  # the machine slows down in rounds 3 and 4
    ratio = median_ratio([1.1 * t for t in slow_spell], slow_spell)
    assert ratio["median"] == pytest.approx(1.1)  # the slow spell cancels within each round
    low, high = ratio["interval"]
    assert low == pytest.approx(1.1) and high == pytest.approx(1.1)
    spread = median_ratio([1.0, 1.2, 1.1, 0.9, 1.05, 1.3, 1.0, 1.15], [1.0] * 8)
    low, high = spread["interval"]
    assert low < spread["median"] < high and 0.9 <= low and high <= 1.3
    assert spread == median_ratio([1.0, 1.2, 1.1, 0.9, 1.05, 1.3, 1.0, 1.15], [1.0] * 8)  # seeded


def test_with_two_rounds_the_interval_is_their_range():
    assert median_ratio([1.0, 1.4], [1.0, 1.0])["interval"] == [1.0, 1.4]
