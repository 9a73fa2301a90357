"""MyST markdown turned into the plain markdown Jupyter and Colab render.

The chapters are written in MyST for the HTML book: ``{glue:text}`` references to the numbers a run
recorded, ``{cite:p}`` citations, ``{exercise}`` / ``{solution}`` / admonition directives. Jupyter knows none
of them, so a chapter opened in Colab would show them as source text. :func:`plain_markdown` rewrites one
markdown cell:

* ``{glue:text}`name:fmt``` → ``format(value, fmt)`` of the recorded value (its ``str`` without a format);
* ``{cite:p}`a,b``` → ``([Goodfellow et al. 2014](…/references.html), …)``, author–year linked to the
  bibliography page of the online book; ``{cite:t}`` → ``Goodfellow et al. ([2014](…))``;
* ``{exercise}`` → a ``#### Exercise: title`` heading and its text;
* ``{solution}`` → the text inside ``<details><summary>Solution</summary> … </details>`` (Jupyter folds it
  like the HTML book's dropdown), or nothing (``solutions="remove"``);
* ``{solution-start}`` / ``{solution-end}`` (the gates around code solutions) → a line naming the solution
  and one ending it;
* ``{admonition} title`` and the named admonitions (``{note}``, ``{warning}``, …) → a block quote headed by
  the title.

Anything else that only MyST understands is an error (:func:`myst_leftovers` finds it), never left in place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SOLUTION_MODES = ("details", "remove")
NAMED_ADMONITIONS = ("note", "tip", "hint", "important", "warning", "caution", "attention", "danger", "error", "seealso")
MYST_MARKERS = ("{glue", "```{", "{cite", "{ref}", "{numref}", "{doc}", "{term}", "{eq}", "{math}")

_GLUE = re.compile(r"\{glue(?::text)?\}`([^`:]+)(?::([^`]*))?`")
_CITE = re.compile(r"\{cite(?::(p|t))?\}`([^`]+)`")
_DIRECTIVE = re.compile(r"^```\{([\w-]+)\}[ \t]*([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_OPTION = re.compile(r"^:([\w-]+):[ \t]*(.*)$")
_BIB_ENTRY = re.compile(r"@\w+\{([^,\s]+),(.*?)\n\}", re.DOTALL)
_LATEX_ACCENTS = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303", "c": "\u0327"}


@dataclass(frozen=True)
class Reference:
    """One bibliography entry as the text cites it: ``authors`` as in "Goodfellow et al.", and ``year``."""

    authors: str
    year: str


def _plain_latex(text: str) -> str:
    """BibTeX text without braces and with accents as Unicode: ``Bottou, L{\\'e}on`` → ``Bottou, Léon``."""
    text = re.sub(r"\\([\'\"`^~c])\{?(\w)\}?", lambda m: unicodedata.normalize("NFC", m[2] + _LATEX_ACCENTS[m[1]]), text)
    return re.sub(r"[{}]", "", text)


def parse_bibliography(bib_text: str) -> dict[str, Reference]:
    """The entries of a BibTeX file by key, each with its authors' surnames in author–year form (one: "Mirza";
    two: "Mirza and Osindero"; more: "Goodfellow et al.") and its year."""
    references = {}
    for key, body in _BIB_ENTRY.findall(bib_text):
        fields = dict(re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{[^{}]*\})*)\}", body))
        if "author" not in fields or "year" not in fields:
            raise ValueError(f"bibliography entry {key!r} needs an author and a year to be cited author–year")
        surnames = [_plain_latex(name.split(",")[0]).strip() for name in re.split(r"\s+and\s+", fields["author"])]
        authors = (surnames[0] if len(surnames) == 1 else " and ".join(surnames) if len(surnames) == 2
                   else f"{surnames[0]} et al.")
        references[key] = Reference(authors, fields["year"].strip())
    return references


def format_glue(value: Any, spec: str | None) -> str:
    """A recorded value as ``{glue:text}`name:spec``` shows it: ``format(value, spec)``, or ``str(value)``."""
    return format(value, spec) if spec else str(value)


def _replace_glue(text: str, values: Mapping[str, Any]) -> str:
    missing = sorted({name for name, _ in _GLUE.findall(text) if name not in values})
    if missing:
        raise KeyError(f"the text refers to values the run did not record: {', '.join(missing)} (re-execute the "
                       "chapter, or fix the names)")
    return _GLUE.sub(lambda match: format_glue(values[match[1]], match[2]), text)


def _replace_citations(text: str, references: Mapping[str, Reference], bibliography_url: str) -> str:
    def cite(match: re.Match) -> str:
        keys = [key.strip() for key in match[2].split(",")]
        unknown = [key for key in keys if key not in references]
        if unknown:
            raise KeyError(f"citation keys not in the bibliography: {', '.join(unknown)}")
        if match[1] == "t":
            return "; ".join(f"{references[key].authors} ([{references[key].year}]({bibliography_url}))"
                             for key in keys)
        return "(" + "; ".join(f"[{references[key].authors} {references[key].year}]({bibliography_url})"
                               for key in keys) + ")"

    return _CITE.sub(cite, text)


def _split_options(body: str) -> str:
    """A directive's body without its ``:option: value`` lines (and the blank line after them)."""
    lines = body.split("\n")
    while lines and _OPTION.match(lines[0]):
        lines.pop(0)
    return "\n".join(lines).strip("\n")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in text.split("\n"))


def _replace_directive(match: re.Match, solutions: str) -> str:
    name, argument, body = match[1], match[2].strip(), _split_options(match[3])
    if name == "exercise":
        return f"#### Exercise: {argument}\n\n{body}" if argument else f"#### Exercise\n\n{body}"
    if name == "solution":
        return "" if solutions == "remove" else f"<details><summary>Solution</summary>\n\n{body}\n\n</details>"
    if name in ("solution-start", "solution-end"):
        if solutions == "remove":
            raise ValueError("a code solution's gate is still there: make the student notebook "
                             "(gancourse.book.editions.student_notebook) before removing text solutions")
        return ("**Solution** (the code below, down to the end of the solution):" if name == "solution-start"
                else "*End of the solution.*")
    if name == "admonition":
        return _quote(f"**{argument}**\n\n{body}" if argument else body)
    if name in NAMED_ADMONITIONS:
        title = "See also" if name == "seealso" else name.capitalize()
        return _quote(f"**{title}**" + (f" {argument}" if argument else "") + f"\n\n{body}")
    raise ValueError(f"the MyST directive {{{name}}} has no plain-markdown form here; add one to "
                     "gancourse.book.plain_markdown or write the text without it")


def plain_markdown(text: str, values: Mapping[str, Any], references: Mapping[str, Reference],
                   bibliography_url: str, solutions: str = "details") -> str:
    """One markdown cell's MyST as plain markdown (module docstring); ``values`` are the run's recorded
    values, ``references`` the parsed bibliography. Raises on a missing value, an unknown citation or a
    construct it cannot render."""
    if solutions not in SOLUTION_MODES:
        raise ValueError(f"solutions must be one of {', '.join(SOLUTION_MODES)}, got {solutions!r}")
    text = _DIRECTIVE.sub(lambda match: _replace_directive(match, solutions), text)
    text = _replace_citations(_replace_glue(text, values), references, bibliography_url)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def myst_leftovers(text: str) -> list[str]:
    """The MyST-only markers still in ``text`` (none in a plain edition)."""
    return [marker for marker in MYST_MARKERS if marker in text]
