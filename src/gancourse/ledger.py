"""The claim ledger: a claim of the course's sources next to the rates a chapter measured, and the verdict
their 95% intervals allow.

A claim compares two measured rates a and b (each k of n images, with its Wilson interval
:func:`gancourse.evaluate.wilson_interval`) and expects a *higher* than b, *lower*, or *similar*::

    separated above   a's interval lies wholly above b's        → "higher"
    separated below   a's interval lies wholly below b's        → "lower"
    otherwise         the intervals overlap                     → the run cannot tell them apart

    expected higher / lower: supported if separated that way, contradicted if separated the other way,
                             not shown if the intervals overlap;
    expected similar:        consistent if the intervals overlap, contradicted if they separate.

Two refinements, both optional on a :class:`Claim`:

    paired       a and b measured on the same images: the exact sign test on the images only one of them
                 succeeds on (:func:`gancourse.evaluate.sign_test`, two-sided, 5%) decides instead of the
                 intervals, which ignore the pairing and are too cautious for it;
    replicates   the same comparison repeated with independently trained models (other seeds): each run gets
                 its verdict, and the claim's verdict is theirs where all runs agree, "mixed" where they differ.

The verdict is computed, never typed: rerun the chapter with other models and the ledger follows the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gancourse.evaluate import sign_test, wilson_interval
from gancourse.results import record

EXPECTATIONS = ("higher", "lower", "similar")


@dataclass(frozen=True)
class Rate:
    """``successes`` of ``n`` images, with its 95% Wilson interval."""

    successes: int
    n: int

    def __post_init__(self) -> None:
        wilson_interval(self.successes, self.n)       # checks 0 ≤ successes ≤ n, n > 0, integer counts

    @classmethod
    def of(cls, fraction: float, n: int) -> Rate:
        """The rate a fraction of ``n`` images stands for (the fraction must be k/n for an integer k)."""
        successes = round(fraction * n)
        if abs(successes - fraction * n) > 1e-6 * max(n, 1):
            raise ValueError(f"{fraction} is not a whole number of {n} images; pass the count the rate was made of")
        return cls(successes, n)

    @property
    def value(self) -> float:
        return self.successes / self.n

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.n)

    def text(self, digits: int = 0) -> str:
        """The rate, its interval and n as prose quotes them: ``"84% [82%, 85%], n = 2,000"``."""
        low, high = self.interval
        return f"{self.value:.{digits}%} [{low:.{digits}%}, {high:.{digits}%}], n = {self.n:,}"

    def __str__(self) -> str:
        return self.text()

    def record(self, name: str) -> None:
        """Record the rate under ``name``, its 95% interval under ``name_low`` and ``name_high`` and its n under
        ``name_n`` (:func:`gancourse.results.record`): the prose quotes them, the claim tests check them."""
        low, high = self.interval
        for suffix, value in (("", self.value), ("_low", low), ("_high", high), ("_n", self.n)):
            record(name + suffix, value)


def separation(a: Rate, b: Rate) -> str:
    """``"higher"`` or ``"lower"`` where a's 95% interval lies wholly above or below b's, else ``"overlap"``."""
    (a_low, a_high), (b_low, b_high) = a.interval, b.interval
    if a_low > b_high:
        return "higher"
    if a_high < b_low:
        return "lower"
    return "overlap"


def paired_separation(only_a: int, only_b: int, level: float = 0.05) -> str:
    """For two rates on the same images, of which ``only_a`` images count for a alone and ``only_b`` for b alone:
    ``"higher"`` or ``"lower"`` where the exact two-sided sign test rejects "a and b succeed equally often" at
    ``level`` (p < level), else ``"overlap"`` (the sample cannot tell them apart)."""
    if sign_test(only_a, only_b) >= level:
        return "overlap"
    return "higher" if only_a > only_b else "lower"


def difference_interval(a: Rate, b: Rate) -> tuple[float, float]:
    """The 95% interval of the difference a − b of two independent rates, Newcombe's (1998) hybrid score
    interval (his method 10), built from the two Wilson intervals (l_a, u_a) and (l_b, u_b):

        low  = (p_a − p_b) − √((p_a − l_a)² + (u_b − p_b)²)
        high = (p_a − p_b) + √((u_a − p_a)² + (p_b − l_b)²)

    Less strict than :func:`separation` (two intervals can overlap while the difference's interval excludes 0),
    and the right test when the question is the difference itself."""
    (a_low, a_high), (b_low, b_high) = a.interval, b.interval
    gap = a.value - b.value
    return (gap - math.hypot(a.value - a_low, b_high - b.value),
            gap + math.hypot(a_high - a.value, b.value - b_low))


def difference_sign(a: Rate, b: Rate) -> str:
    """``"higher"`` or ``"lower"`` where the 95% interval of a − b (:func:`difference_interval`) excludes 0,
    else ``"not separated"``."""
    low, high = difference_interval(a, b)
    return "higher" if low > 0 else "lower" if high < 0 else "not separated"


def verdict(expected: str, a: Rate, b: Rate) -> str:
    """The verdict on "a is ``expected`` than b" (module docstring): ``supported``, ``consistent``,
    ``contradicted`` or ``not shown``."""
    return verdict_on(expected, separation(a, b))


def verdict_on(expected: str, found: str) -> str:
    """The verdict on "a is ``expected`` than b" given how a and b were found to compare (``"higher"``,
    ``"lower"`` or ``"overlap"``, by :func:`separation` or :func:`paired_separation`)."""
    if expected not in EXPECTATIONS:
        raise ValueError(f"expected must be one of {', '.join(EXPECTATIONS)}, got {expected!r}")
    if found not in ("higher", "lower", "overlap"):
        raise ValueError(f"found must be higher, lower or overlap, got {found!r}")
    if expected == "similar":
        return "consistent" if found == "overlap" else "contradicted"
    if found == "overlap":
        return "not shown"
    return "supported" if found == expected else "contradicted"


@dataclass(frozen=True)
class Claim:
    """A source's claim, tested as "``a`` is ``expected`` than ``b``" on this chapter's measurements.

    Attributes:
        claim: the source's words (quoted) or a faithful paraphrase.
        source: where it is said (seed and slide, or paper).
        expected: ``"higher"``, ``"lower"`` or ``"similar"``.
        a_label, a, b_label, b: the two measured rates and what they are.
        note: what the comparison does and does not test (threat model, ε, sample).
        paired: (images only a succeeds on, images only b succeeds on) where a and b were measured on the same
            images; the sign test then decides a against b (module docstring).
        replicates: further (a, b) pairs of the same comparison with independently trained models; the verdict
            is the runs' common verdict, or ``"mixed"``.
    """

    claim: str
    source: str
    expected: str
    a_label: str
    a: Rate
    b_label: str
    b: Rate
    note: str = ""
    paired: tuple[int, int] | None = None
    replicates: tuple[tuple[Rate, Rate], ...] = ()

    def __post_init__(self) -> None:
        if self.paired is None:
            return
        only_a, only_b = self.paired
        if self.a.n != self.b.n:
            raise ValueError(f"paired rates must count the same images, got n = {self.a.n} and {self.b.n}; "
                             "leave paired out for rates on different images")
        if not (0 <= only_a <= self.a.successes and 0 <= only_b <= self.b.successes):
            raise ValueError(f"paired counts {self.paired} must lie within the successes of a ({self.a.successes}) "
                             f"and b ({self.b.successes}): pass (images only a succeeds on, images only b succeeds on)")

    @property
    def run_verdicts(self) -> tuple[str, ...]:
        """The verdict of the first run (paired test where given), then of each replicate."""
        first = paired_separation(*self.paired) if self.paired is not None else separation(self.a, self.b)
        return (verdict_on(self.expected, first), *(verdict(self.expected, a, b) for a, b in self.replicates))

    @property
    def verdict(self) -> str:
        found = set(self.run_verdicts)
        return found.pop() if len(found) == 1 else "mixed"

    def verdict_text(self) -> str:
        """The verdict as the ledger prints it, with the paired test and each run's verdict where they exist."""
        parts = [f"expects {self.expected}"]
        if self.paired is not None:
            only_a, only_b = self.paired
            parts.append(f"pair by pair {only_a:,} vs {only_b:,}, sign test p = {sign_test(only_a, only_b):.2g}")
        if self.replicates:
            parts.append(f"runs: {', '.join(self.run_verdicts)}")
        return f"**{self.verdict}** ({'; '.join(parts)})"


def ledger_markdown(claims: list[Claim]) -> str:
    """The claims as a Markdown table: claim, source, the two measurements (the first run's), verdict, note."""
    if not claims:
        raise ValueError("the ledger needs at least one claim")
    lines = ["| claim | source | measured here | verdict | note |", "|---|---|---|---|---|"]
    for claim in claims:
        measured = f"{claim.a_label}: {claim.a}<br>{claim.b_label}: {claim.b}"
        cells = (claim.claim, claim.source, measured, claim.verdict_text(), claim.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
