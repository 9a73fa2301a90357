"""The claim ledger: verdicts follow the 95% intervals, rates are counts, the table shows every claim."""

from __future__ import annotations

import pytest

from gancourse.ledger import (
    Claim,
    Rate,
    difference_interval,
    difference_sign,
    ledger_markdown,
    paired_separation,
    separation,
    verdict,
    verdict_on,
)


def test_a_rate_knows_its_interval_and_prints_it_with_n():
    rate = Rate(50, 100)
    low, high = rate.interval
    assert rate.value == 0.5 and low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    assert str(rate) == "50% [40%, 60%], n = 100"
    assert Rate.of(0.25, 200) == Rate(50, 200)
    assert Rate(839, 2000).text(1) == "41.9% [39.8%, 44.1%], n = 2,000"


def test_a_recorded_rate_carries_its_interval_and_n(monkeypatch):
    recorded = {}
    monkeypatch.setattr("gancourse.ledger.record", lambda name, value: recorded.__setitem__(name, value))
    Rate(3, 40).record("ch00_example")
    low, high = Rate(3, 40).interval
    assert recorded == {"ch00_example": 0.075, "ch00_example_low": low, "ch00_example_high": high, "ch00_example_n": 40}


def test_rates_refuse_what_is_not_a_count():
    with pytest.raises(ValueError, match="not a whole number of 7 images"):
        Rate.of(0.5, 7)
    with pytest.raises(ValueError, match="successes <= n"):
        Rate(8, 7)
    with pytest.raises(TypeError, match="counts"):
        Rate(0.5, 10)


@pytest.mark.parametrize(("a", "b", "found"), [
    (Rate(90, 100), Rate(50, 100), "higher"),
    (Rate(10, 100), Rate(50, 100), "lower"),
    (Rate(55, 100), Rate(50, 100), "overlap"),
    (Rate(9, 10), Rate(5, 10), "overlap"),          # the same gap on 10 images is noise
])
def test_separation_needs_disjoint_intervals(a, b, found):
    assert separation(a, b) == found


@pytest.mark.parametrize(("expected", "a", "b", "result"), [
    ("higher", Rate(90, 100), Rate(50, 100), "supported"),
    ("higher", Rate(10, 100), Rate(50, 100), "contradicted"),
    ("higher", Rate(55, 100), Rate(50, 100), "not shown"),
    ("lower", Rate(10, 100), Rate(50, 100), "supported"),
    ("similar", Rate(55, 100), Rate(50, 100), "consistent"),
    ("similar", Rate(90, 100), Rate(50, 100), "contradicted"),
])
def test_the_verdict_follows_the_intervals(expected, a, b, result):
    assert verdict(expected, a, b) == result


def test_an_unknown_expectation_is_refused():
    with pytest.raises(ValueError, match="higher, lower, similar"):
        verdict("better", Rate(1, 2), Rate(1, 2))


def test_the_ledger_table_has_a_row_per_claim_with_both_rates_and_the_computed_verdict():
    claims = [Claim("MagNet performed similar to no defense", "lecture", "similar", "MagNet", Rate(160, 200),
                    "none", Rate(60, 200), "FGSM | oblivious"),
              Claim("APE-GAN reduced the error", "lecture", "higher", "APE-GAN", Rate(70, 100), "none", Rate(68, 100))]
    lines = ledger_markdown(claims).splitlines()
    assert len(lines) == 4 and lines[0].startswith("| claim |")
    assert "**contradicted** (expects similar)" in lines[2] and "MagNet: 80% [74%, 85%], n = 200" in lines[2]
    assert "FGSM \\| oblivious" in lines[2]                                   # a "|" in a cell is escaped
    assert "**not shown** (expects higher)" in lines[3]
    with pytest.raises(ValueError, match="at least one claim"):
        ledger_markdown([])


def test_difference_interval_matches_newcombes_worked_example():
    low, high = difference_interval(Rate(56, 70), Rate(48, 80))    # Newcombe 1998, Table II, example (a), method 10
    assert low == pytest.approx(0.0524, abs=1e-4) and high == pytest.approx(0.3339, abs=1e-4)


def test_difference_interval_is_antisymmetric_contains_the_gap_and_stays_in_range():
    for a, b in ((Rate(0, 10), Rate(10, 10)), (Rate(3, 40), Rate(9, 50)), (Rate(500, 500), Rate(499, 500))):
        low, high = difference_interval(a, b)
        back_low, back_high = difference_interval(b, a)
        assert (low, high) == pytest.approx((-back_high, -back_low))
        assert -1 <= low <= a.value - b.value <= high <= 1


def test_difference_sign_separates_more_than_non_overlapping_intervals():
    a, b = Rate(673, 1000), Rate(729, 1000)      # intervals overlap, yet the difference's interval excludes 0
    assert separation(a, b) == "overlap" and difference_sign(a, b) == "lower" and difference_sign(b, a) == "higher"
    assert difference_sign(Rate(50, 100), Rate(52, 100)) == "not separated"


@pytest.mark.parametrize(("only_a", "only_b", "found"), [
    (721, 114, "higher"), (255, 306, "lower"), (30, 40, "overlap"), (0, 0, "overlap"),
    (5, 0, "overlap"), (6, 0, "higher"),        # 2 · 2⁻⁵ = 0.0625 ≥ 5%, 2 · 2⁻⁶ = 0.031 < 5%
])
def test_paired_separation_follows_the_exact_sign_test(only_a, only_b, found):
    assert paired_separation(only_a, only_b) == found
    assert paired_separation(only_b, only_a) == {"higher": "lower", "lower": "higher", "overlap": "overlap"}[found]


def test_a_paired_claim_is_judged_by_the_sign_test_not_the_intervals():
    a, b = Rate(673, 1000), Rate(729, 1000)                 # overlapping intervals...
    plain = Claim("a matches b", "here", "similar", "a", a, "b", b)
    paired = Claim("a matches b", "here", "similar", "a", a, "b", b, paired=(100, 156))   # ...p = 0.00056 pair by pair
    assert plain.verdict == "consistent" and paired.verdict == "contradicted"
    assert "pair by pair 100 vs 156, sign test p = 0.00056" in paired.verdict_text()


def test_paired_counts_must_fit_the_rates():
    with pytest.raises(ValueError, match="same images"):
        Claim("c", "s", "higher", "a", Rate(5, 10), "b", Rate(5, 12), paired=(1, 1))
    with pytest.raises(ValueError, match="within the successes"):
        Claim("c", "s", "higher", "a", Rate(5, 10), "b", Rate(3, 10), paired=(6, 0))


def test_replicated_claims_need_every_run_to_agree():
    high, low, even = (Rate(90, 100), Rate(50, 100)), (Rate(40, 100), Rate(80, 100)), (Rate(52, 100), Rate(50, 100))
    agreeing = Claim("a beats b", "here", "higher", "a", *high[:1], "b", high[1], replicates=(high, high))
    differing = Claim("a beats b", "here", "higher", "a", high[0], "b", high[1], replicates=(even, low))
    assert agreeing.verdict == "supported" and agreeing.run_verdicts == ("supported",) * 3
    assert differing.verdict == "mixed" and differing.run_verdicts == ("supported", "not shown", "contradicted")
    row = ledger_markdown([differing]).splitlines()[2]
    assert "**mixed** (expects higher; runs: supported, not shown, contradicted)" in row
    assert "a: 90% [83%, 94%], n = 100" in row                  # the table shows the first run's rates


def test_verdict_on_refuses_a_comparison_it_does_not_know():
    assert verdict_on("higher", "lower") == "contradicted" and verdict_on("similar", "overlap") == "consistent"
    with pytest.raises(ValueError, match="found must be higher, lower or overlap"):
        verdict_on("higher", "not separated")        # difference_sign's word, not separation's
