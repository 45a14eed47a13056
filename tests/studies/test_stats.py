"""Statistics helpers against printed tables and hand computations."""

import math

import pytest

from se_tutorial.studies import paired_difference, sign_test, summarize, t_quantile


@pytest.mark.parametrize(
    ("probability", "df", "table"),
    [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 9, 2.262), (0.975, 30, 2.042),
     (0.95, 5, 2.015), (0.995, 10, 3.169), (0.5, 3, 0.0)],
)  # fmt: skip
def test_t_quantiles_match_the_printed_table(probability, df, table):
    assert t_quantile(probability, df) == pytest.approx(table, abs=5e-4)


def test_extreme_quantiles_are_exact():
    # Printed tables: t(0.9995, 1) = 636.619, t(0.9995, 2) = 31.599.
    assert t_quantile(0.9995, 1) == pytest.approx(636.619, abs=1e-3)
    assert t_quantile(0.9995, 2) == pytest.approx(31.599, abs=1e-3)


def test_t_approaches_the_normal_distribution():
    assert t_quantile(0.975, 10_000) == pytest.approx(1.960, abs=1e-3)


def test_summary_by_hand():
    summary = summarize([0.90, 0.92, 0.94])
    assert summary.mean == pytest.approx(0.92)
    assert summary.std == pytest.approx(0.02)  # sqrt((0.02^2 + 0 + 0.02^2) / 2)
    assert summary.n == 3
    assert math.isnan(summarize([0.5]).std)


def test_paired_difference_by_hand():
    # differences 0.02, 0.01, 0.03: mean 0.02, sd 0.01, se 0.01 / sqrt(3), t(0.975, 2) = 4.3027
    d = paired_difference([0.90, 0.91, 0.92], [0.92, 0.92, 0.95])
    half = 4.302653 * 0.01 / math.sqrt(3)
    assert d.mean == pytest.approx(0.02)
    assert (d.low, d.high) == pytest.approx((0.02 - half, 0.02 + half), abs=1e-6)
    assert not d.excludes_zero  # half-width 0.0248 > 0.02: three seeds cannot tell
    # t = 0.02 / (0.01 / sqrt(3)) = 3.464 on 2 degrees of freedom: between the table's
    # two-sided 10% (2.920) and 5% (4.303) points, so 0.05 < p < 0.10.
    assert 0.05 < d.p_value < 0.10 and (d.higher, d.lower) == (3, 0)
    assert paired_difference([0.90, 0.91, 0.92], [0.92, 0.931, 0.939]).excludes_zero


def test_pairing_removes_shared_noise():
    # Seeds move both models together; the unpaired spreads are large, the paired one small.
    a, b = [0.80, 0.90, 0.85], [0.81, 0.91, 0.86]
    assert summarize(a).std > 0.04
    d = paired_difference(a, b)
    assert d.low == pytest.approx(0.01) and d.high == pytest.approx(0.01)


def test_sign_test_by_hand():
    # 9 of 10 seeds higher: P(X >= 9) for X ~ Binomial(10, 1/2) is 11/1024; two-sided, twice that.
    assert sign_test([0.5] * 10, [0.6] * 9 + [0.4]) == pytest.approx(22 / 1024)
    # ties are dropped: 2 up, 0 down, 3 tied is a binomial(2, 1/2) with both up: p = 2 * 1/4
    assert sign_test([0.5] * 5, [0.6, 0.6, 0.5, 0.5, 0.5]) == pytest.approx(0.5)
    assert sign_test([0.5] * 3, [0.5] * 3) == 1.0
    d = paired_difference([0.5] * 4, [0.6, 0.6, 0.7, 0.4])
    assert (d.higher, d.lower) == (3, 1)


def test_identical_differences_have_no_spread_and_a_degenerate_test():
    d = paired_difference([0.5, 0.6], [0.6, 0.7])
    assert (d.low, d.high) == pytest.approx((0.1, 0.1)) and d.p_value == 0.0
    assert paired_difference([0.5, 0.6], [0.5, 0.6]).p_value == 1.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: paired_difference([0.9], [0.91]), "at least two"),
        (lambda: paired_difference([0.9, 0.8], [0.91]), "equal counts"),
        (lambda: summarize([]), "no values"),
        (lambda: t_quantile(1.0, 3), "probability"),
        (lambda: t_quantile(0.9, 0), "degree"),
        (lambda: sign_test([0.9, 0.8], [0.91]), "equal counts"),
        (lambda: summarize([0.9, float("nan")]), r"item 1 is nan; a NaN or infinite accuracy"),
        (lambda: paired_difference([0.9, float("inf")], [0.9, 0.8]), "item 1 is inf"),
        (lambda: sign_test([0.9, 0.8], [float("nan"), 0.8]), "item 0 is nan"),
        (lambda: paired_difference([0.9, 0.8], [0.91, 0.81], confidence=0), "between 0 and 1"),
        (lambda: paired_difference([0.9, 0.8], [0.91, 0.81], confidence=1), "between 0 and 1"),
        (lambda: paired_difference([0.9, 0.8], [0.91, 0.81], confidence=95), r"pass 0\.95 for 95%"),
        (lambda: t_quantile(0.975, float("nan")), "whole number of degrees of freedom"),
        (lambda: t_quantile(0.975, 2.5), "whole number of degrees of freedom"),
        (lambda: t_quantile(float("nan"), 3), "probability"),
    ],
)
def test_bad_input_is_reported(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- families of comparisons, flipped predictions, the test-set floor -----------------------


def test_holm_adjusts_step_down_as_written_out_by_hand():
    from se_tutorial.studies.stats import holm

    # Sorted: 0.01 * 3 = 0.03; max(0.03, 0.03 * 2) = 0.06; max(0.06, 0.04 * 1) = 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match="no p-values"):
        holm([])


def test_flipped_predictions_counts_each_kind_and_tests_the_discordant_ones():
    from se_tutorial.studies.stats import flipped_predictions

    labels = [0] * 20
    first = [0] * 10 + [1] * 10  # right on the first 10
    second = [1] * 2 + [0] * 8 + [0] * 9 + [2]  # 2 become wrong, 9 become right, 1 wrong to another
    flips = flipped_predictions(labels, first, second)
    assert (flips.became_right, flips.became_wrong, flips.wrong_to_another, flips.changed) == (9, 2, 1, 12)
    # Exact McNemar: 2 or fewer of 11 discordant pairs on one side, two-sided.
    assert flips.p_value == pytest.approx(2 * sum(math.comb(11, k) for k in range(3)) / 2**11)
    assert flipped_predictions([1], [1], [1]).p_value == 1.0  # nothing discordant
    with pytest.raises(ValueError, match="one entry per image"):
        flipped_predictions([0, 1], [0], [0, 1])


def test_accuracy_interval_is_clopper_pearson_and_about_half_a_point_at_92_percent():
    from se_tutorial.studies.stats import accuracy_interval

    low, high = accuracy_interval(9200, 10_000)
    assert 0.9140 < low < 0.92 < high < 0.9260 and high - low == pytest.approx(0.0107, abs=5e-4)
    assert accuracy_interval(0, 10) == pytest.approx((0.0, 1 - 0.025 ** (1 / 10)))  # exact at the edge
    with pytest.raises(ValueError, match="0 <= correct <= total"):
        accuracy_interval(11, 10)
