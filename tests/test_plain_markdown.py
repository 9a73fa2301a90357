"""MyST → plain Jupyter markdown (gancourse.book.plain_markdown): known answers for every construct, errors
for what it cannot render, and every executed chapter converted with nothing MyST-only left."""

import json
from pathlib import Path

import pytest

from gancourse.book.plain_markdown import Reference, format_glue, myst_leftovers, parse_bibliography, plain_markdown
from gancourse.results import read_recorded

ROOT = Path(__file__).resolve().parents[1]
BIB = """@inproceedings{goodfellow2014gan,
  title = {Generative Adversarial Nets},
  author = {Goodfellow, Ian and Pouget-Abadie, Jean and Mirza, Mehdi},
  year = {2014}
}
@misc{mirza2014cgan,
  title = {Conditional {GANs}},
  author = {Mirza, Mehdi and Osindero, Simon},
  year = {2014}
}
@article{bottou2010,
  author = {Bottou, L{\\'e}on},
  year = {2010}
}
"""
URL = "https://org.github.io/book/book/references.html"


def convert(text, values=None, solutions="details"):
    return plain_markdown(text, values or {}, parse_bibliography(BIB), URL, solutions)


def test_the_bibliography_gives_author_year_forms():
    assert parse_bibliography(BIB) == {"goodfellow2014gan": Reference("Goodfellow et al.", "2014"),
                                       "mirza2014cgan": Reference("Mirza and Osindero", "2014"),
                                       "bottou2010": Reference("Bottou", "2010")}
    with pytest.raises(ValueError, match="author and a year"):
        parse_bibliography("@misc{x,\n  title = {T}\n}\n")


def test_glue_references_become_the_recorded_values_formatted_as_myst_nb_does():
    values = {"acc": 0.91234, "n": 2000, "name": "Sandal"}
    assert convert("{glue:text}`acc:.1%` of {glue:text}`n:,` ({glue:text}`name`), {glue}`acc:.2f`", values) \
        == "91.2% of 2,000 (Sandal), 0.91"
    assert format_glue(0.5, None) == "0.5"
    with pytest.raises(KeyError, match="did not record: missing"):
        convert("{glue:text}`missing:.1f`", values)


def test_citations_become_linked_author_year():
    assert convert("GANs {cite:p}`goodfellow2014gan`.") == f"GANs ([Goodfellow et al. 2014]({URL}))."
    assert convert("{cite:p}`goodfellow2014gan,mirza2014cgan`") == \
        f"([Goodfellow et al. 2014]({URL}); [Mirza and Osindero 2014]({URL}))"
    assert convert("{cite:t}`bottou2010` shows") == f"Bottou ([2010]({URL})) shows"
    with pytest.raises(KeyError, match="nobody2020"):
        convert("{cite:p}`nobody2020`")


EXERCISE = """## Exercises

```{exercise} Implement FGSM
:label: ex06-fgsm

Write `fgsm(model, x, y, eps)`.
```

```{solution} ex06-fgsm
:class: dropdown

    x + eps * grad.sign()
```

After."""


def test_exercises_become_headings_and_solutions_fold_or_go():
    assert convert(EXERCISE) == ("## Exercises\n\n#### Exercise: Implement FGSM\n\nWrite `fgsm(model, x, y, eps)`."
                                 "\n\n<details><summary>Solution</summary>\n\n    x + eps * grad.sign()\n\n</details>"
                                 "\n\nAfter.")
    student = convert(EXERCISE, solutions="remove")
    assert "grad.sign" not in student and "Solution" not in student and student.endswith("eps)`.\n\nAfter.")
    gate = "```{solution-start} ex02-penalty\n:class: dropdown\n```"
    assert convert(gate).startswith("**Solution**")
    with pytest.raises(ValueError, match="student notebook"):
        convert(gate, solutions="remove")
    with pytest.raises(ValueError, match="solutions must be"):
        convert("x", solutions="hide")


def test_admonitions_become_block_quotes_and_unknown_directives_are_errors():
    assert convert("```{admonition} How this page was executed\nProfile **cpu**.\n\nMore.\n```") == \
        "> **How this page was executed**\n>\n> Profile **cpu**.\n>\n> More."
    assert convert("```{warning}\nCareful.\n```") == "> **Warning**\n>\n> Careful."
    with pytest.raises(ValueError, match="glossary"):
        convert("```{glossary}\nterm\n  definition\n```")
    assert myst_leftovers("see {ref}`x` and ```{note}") == ["```{", "{ref}"]


@pytest.mark.book
@pytest.mark.parametrize("chapter", sorted((ROOT / "book" / "chapters").glob("*.ipynb")), ids=lambda p: p.stem[:2])
def test_every_executed_chapter_converts_with_nothing_myst_left(chapter):
    notebook = json.loads(chapter.read_text())
    values = read_recorded(notebook)
    references = parse_bibliography((ROOT / "book" / "references.bib").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for solutions in ("details", "remove") if "solution-" not in "".join(cell["source"]) else ("details",):
                text = plain_markdown("".join(cell["source"]), values, references, URL, solutions)
                assert myst_leftovers(text) == [], text[:300]


def test_the_online_books_address_follows_the_repository():
    from gancourse.book.repository import pages_url

    assert pages_url("https://github.com/GanCourse/book.git") == "https://gancourse.github.io/book/"
    with pytest.raises(ValueError, match="GitHub Pages"):
        pages_url("https://gitlab.com/org/book")
