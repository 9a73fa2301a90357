"""The student edition removes every solution and keeps the self-checks; its stubs run and are graded."""

import json

import nbformat
import pytest

from gancourse.book.editions import STUB, student_notebook, write_edition
from gancourse.book.layout import BookLayout
from gancourse.book.plain_markdown import myst_leftovers
from gancourse.cli import main
from gancourse.exercises import check_fgsm

ROOT = BookLayout.of_repository()


@pytest.mark.book
def test_every_edition_is_plain_jupyter_and_the_student_one_has_no_solution(tmp_path):
    for edition in ("reader", "student", "instructor"):
        assert main(["edition", edition, str(tmp_path / edition)]) == 0
    checks = 0
    for source in ROOT.chapter_sources():
        original = nbformat.read(source, as_version=4)
        executed = nbformat.read(ROOT.executed / source.name, as_version=4)
        editions = {edition: nbformat.read(tmp_path / edition / source.name, as_version=4)
                    for edition in ("reader", "student", "instructor")}
        exercises = sum(cell.source.count("```{exercise}") for cell in original.cells)
        assert exercises >= 3, f"{source.name} has {exercises} exercises"
        for edition, notebook in editions.items():
            markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
            assert myst_leftovers(markdown) == [], (edition, source.name)
            assert markdown.count("#### Exercise") == exercises, (edition, source.name)
            assert "published run" in notebook.cells[1].source
            glue = [output for cell in notebook.cells for output in cell.get("outputs", [])
                    if "scrapbook" in output.get("metadata", {})]
            assert glue == [], "the hidden recorded values are removed (Jupyter shows them as unknown outputs)"
        student = json.dumps([cell.source for cell in editions["student"].cells])
        assert "Solution" not in student and "BEGIN SOLUTION" not in student, source.name
        solutions = sum(cell.source.count("```{solution}") for cell in original.cells)
        assert sum(cell.source.count("<details>") for cell in editions["instructor"].cells) == solutions
        codes = [[cell.source for cell in notebook.cells if cell.cell_type == "code"]
                 for notebook in (original, editions["instructor"], executed, editions["reader"])]
        assert codes[0] == codes[1] and codes[2] == codes[3]          # the code is untouched
        assert any(cell.get("outputs") for cell in editions["reader"].cells if cell.cell_type == "code")
        for cell in original.cells:
            if "exercise-check" in cell.metadata.get("tags", []):
                assert any(mine.source == cell.source for mine in editions["student"].cells), source.name
                checks += 1
    assert checks >= 3  # FGSM (06), gradient penalty (02), projection (09)


@pytest.mark.book
def test_a_student_stub_runs_and_the_check_says_it_is_not_written():
    notebook = student_notebook(nbformat.read(ROOT.find_chapter("06"), as_version=4))
    stub = next(cell for cell in notebook.cells if STUB in cell.source)
    assert "def my_fgsm(model, x, labels, eps, targeted=False):" in stub.source
    assert "gradient.sign()" not in stub.source          # the solution's lines are gone
    namespace: dict = {}
    exec(stub.source, namespace)
    result = check_fgsm(namespace["my_fgsm"])
    assert not result.passed and "not written yet" in str(result)


@pytest.mark.book
def test_solutions_in_the_sources_pass_their_checks():
    from gancourse import exercises

    for number, check in (("02", exercises.check_gradient_penalty), ("06", exercises.check_fgsm)):
        notebook = nbformat.read(ROOT.find_chapter(number), as_version=4)
        solution = next(cell for cell in notebook.cells
                        if "solution" in cell.metadata.get("tags", []) and "BEGIN SOLUTION" in cell.source)
        namespace: dict = {}
        exec(solution.source, namespace)
        function = next(value for name, value in namespace.items() if name.startswith("my_"))
        assert check(function).passed


def test_unbalanced_gates_and_unknown_editions_are_errors(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("```{solution-start} x\n```")])
    with pytest.raises(ValueError, match="no matching"):
        student_notebook(notebook)
    with pytest.raises(ValueError, match="unknown edition"):
        write_edition(ROOT, "teacher", tmp_path)


@pytest.mark.book
def test_the_committed_reader_edition_is_what_the_build_makes_of_the_executed_chapters(tmp_path):
    written = write_edition(ROOT, "reader", tmp_path)
    assert [path.name for path in written] == sorted(path.name for path in ROOT.colab.glob("*.ipynb"))
    for path in written:
        assert path.read_text() == (ROOT.colab / path.name).read_text(), \
            f"colab/{path.name} is stale: run `gancourse build` (or `make book`) and commit colab/"
