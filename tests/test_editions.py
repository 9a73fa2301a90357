"""The student edition removes every solution and keeps the self-checks; its stubs run and are graded."""

import json

import nbformat
import pytest

from gancourse.book.editions import STUB, student_notebook, write_edition
from gancourse.book.layout import BookLayout
from gancourse.cli import main
from gancourse.exercises import check_fgsm

ROOT = BookLayout.of_repository()


@pytest.mark.book
def test_the_student_edition_of_every_chapter_has_no_solution_and_keeps_its_checks(tmp_path):
    assert main(["edition", "student", str(tmp_path / "student")]) == 0
    assert main(["edition", "instructor", str(tmp_path / "instructor")]) == 0
    checks = 0
    for source in ROOT.chapter_sources():
        original = nbformat.read(source, as_version=4)
        student = nbformat.read(tmp_path / "student" / source.name, as_version=4)
        instructor = nbformat.read(tmp_path / "instructor" / source.name, as_version=4)
        text = json.dumps([cell.source for cell in student.cells])
        assert "{solution" not in text and "BEGIN SOLUTION" not in text, source.name
        assert [cell.source for cell in instructor.cells] == [cell.source for cell in original.cells]
        exercises = sum(cell.source.count("```{exercise}") for cell in original.cells)
        assert exercises >= 3, f"{source.name} has {exercises} exercises"
        assert sum(cell.source.count("```{exercise}") for cell in student.cells) == exercises
        for cell in original.cells:
            if "exercise-check" in cell.metadata.get("tags", []):
                assert any(mine.source == cell.source for mine in student.cells), source.name
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
        write_edition([], "teacher", tmp_path)
