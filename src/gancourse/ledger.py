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

The verdict is computed, never typed: rerun the chapter with other models and the ledger follows the numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gancourse.evaluate import wilson_interval
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
    if expected not in EXPECTATIONS:
        raise ValueError(f"expected must be one of {', '.join(EXPECTATIONS)}, got {expected!r}")
    found = separation(a, b)
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
    """

    claim: str
    source: str
    expected: str
    a_label: str
    a: Rate
    b_label: str
    b: Rate
    note: str = ""

    @property
    def verdict(self) -> str:
        return verdict(self.expected, self.a, self.b)


def ledger_markdown(claims: list[Claim]) -> str:
    """The claims as a Markdown table: claim, source, the two measurements, verdict, note."""
    if not claims:
        raise ValueError("the ledger needs at least one claim")
    lines = ["| claim | source | measured here | verdict | note |", "|---|---|---|---|---|"]
    for claim in claims:
        measured = f"{claim.a_label}: {claim.a}<br>{claim.b_label}: {claim.b}"
        cells = (claim.claim, claim.source, measured, f"**{claim.verdict}** (expects {claim.expected})", claim.note)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
