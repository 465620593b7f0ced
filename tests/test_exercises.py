"""Exercises are well formed: hidden tests exist and stay hidden, visible checks speak to the student, written
questions come with a model answer and a rubric for the grader."""
import re

import nbformat
import pytest

from course import HIDDEN, RELEASE, SOLUTION, SOLUTIONS, is_test, is_written, nbgrader_meta, notebooks, points

SOLUTION_NOTEBOOKS = notebooks(SOLUTIONS)
# What nbgrader's generate_assignment leaves of a written answer in the release (ClearSolutions.text_stub).
ANSWER_PROMPT = "YOUR ANSWER HERE"


def graded_cells(path):
    """The autograded test cells."""
    return [cell for cell in nbformat.read(path, 4).cells if is_test(cell)]


def written_cells(path):
    """The written answers, graded by hand."""
    return [cell for cell in nbformat.read(path, 4).cells if is_written(cell)]


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_graded_exercise_has_visible_and_hidden_tests(path):
    cells = graded_cells(path)
    assert len(cells) >= 2, f"{path.name}: a notebook needs at least two graded exercises"
    for cell in cells:
        name = cell.metadata["nbgrader"]["grade_id"]
        assert HIDDEN.search(cell.source), f"{name}: no hidden test"
        visible = HIDDEN.sub("", cell.source)
        assert "check." in visible, f"{name}: no visible check for the student"
        # A bare assert gives a student nothing to go on; attnlab.check says what was expected and got.
        bare = [line for line in visible.splitlines() if line.lstrip().startswith("assert ")]
        assert not bare, f"{name}: visible tests should call attnlab.check, not assert: {bare}"


def test_no_hidden_test_text_appears_in_the_release():
    hidden, shown = set(), set()
    for path in SOLUTION_NOTEBOOKS:
        for cell in nbformat.read(path, 4).cells:
            hidden.update(line.strip() for block in HIDDEN.findall(cell.source) for line in block.splitlines())
            shown.update(line.strip() for line in HIDDEN.sub("", cell.source).splitlines())
    # Lines that also stand in visible code (a blank, a seed) prove nothing; the rest must not leak.
    hidden_lines = {line for line in hidden - shown if len(line) > 12}
    assert hidden_lines
    released = "\n".join(cell.source for path in notebooks(RELEASE) for cell in nbformat.read(path, 4).cells)
    leaked = [line for line in hidden_lines if line in released]
    assert not leaked, f"hidden tests visible in course/: {leaked[:5]}"
    assert "BEGIN HIDDEN TESTS" not in released and "BEGIN SOLUTION" not in released


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_the_first_cell_announces_the_real_exercises_and_points(path):
    cells = nbformat.read(path, 4).cells
    announced = re.search(r"\*\*Graded exercises:\*\* (\d+) \((\d+) points?\)", cells[0].source)
    assert announced, f"{path.name}: the first cell should say '**Graded exercises:** N (P points)'"
    headings = re.findall(r"### Exercise (\d+) \((\d+) points?(, written)?\)", "\n".join(c.source for c in cells))
    tests, written = points(graded_cells(path)), points(written_cells(path))
    assert [int(n) for n, _, _ in headings] == list(range(1, len(headings) + 1)), f"exercises numbered {headings}"
    assert sum(int(p) for _, p, _ in headings) == tests + written, \
        f"headings promise {headings}, the test cells give {tests} and the written answers {written}"
    assert [int(p) for _, p, kind in headings if kind] == [nbgrader_meta(c)["points"] for c in written_cells(path)]
    assert (int(announced[1]), int(announced[2])) == (len(headings), tests + written)
    if written:
        assert "graded by hand" in " ".join(cells[0].source.split()), f"{path.name}: say that a written answer is"


def test_the_readme_states_each_parts_points():
    readme = (SOLUTIONS.parent / "README.md").read_text()
    stated = re.search(r"\(part0: (\d+) points, part1: (\d+) points, part2: (\d+) points; (\d+) in all"
                       r"(?:, (\d+) of them for written answers graded by hand)?\)", readme)
    assert stated, "the README should say '(part0: N points, part1: N points, part2: N points; N in all)'"
    parts = [[path for path in SOLUTION_NOTEBOOKS if path.parent.name == part]
             for part in ("part0_foundations", "part1_depth", "part2_heads")]
    totals = [sum(points(graded_cells(path)) + points(written_cells(path)) for path in part) for part in parts]
    written = sum(points(written_cells(path)) for path in SOLUTION_NOTEBOOKS)
    assert [int(n) for n in stated.groups()[:4]] == totals + [sum(totals)]
    assert int(stated[5] or 0) == written, f"the written answers are worth {written} points in all"


def tracked(cell):
    """Whether nbgrader keeps the cell in its gradebook (a source cell): locked, graded, an answer or a task."""
    return any(nbgrader_meta(cell).get(flag) for flag in ("locked", "grade", "solution", "task"))


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_graded_cell_follows_an_answer_or_a_graded_cell(path):
    """nbgrader puts a deleted graded cell (a test, or a written answer) back after the cell it tracks that came
    before it in the source, and fails the whole submission when that cell is an ordinary one: so a graded cell
    must follow an answer or a graded cell. Between the two may stand only markdown that nbgrader does not track:
    a written question's read-only cell."""
    cells = nbformat.read(path, 4).cells
    for index, cell in enumerate(cells):
        name = nbgrader_meta(cell).get("grade_id")
        if not nbgrader_meta(cell).get("grade"):
            continue
        before = max((i for i in range(index) if tracked(cells[i])), default=None)
        assert before is not None, f"{name} has no cell before it that nbgrader tracks"
        assert all(c.cell_type == "markdown" for c in cells[before + 1:index]), f"{name} follows an ordinary code cell"
        meta = nbgrader_meta(cells[before])
        assert meta.get("grade") or meta.get("solution"), f"{name} follows an ordinary cell ({meta.get('grade_id')})"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_written_answer_is_asked_above_and_has_a_model_answer_and_a_rubric(path):
    """A written question: its read-only question right above; the answer cell, all of it a solution region (the
    release shows nbgrader's prompt alone), holding a model answer and a rubric that gives out exactly its points."""
    cells = nbformat.read(path, 4).cells
    release = nbformat.read(RELEASE / path.relative_to(SOLUTIONS), 4).cells
    released = {nbgrader_meta(cell).get("grade_id"): cell for cell in release}
    for index, cell in enumerate(cells):
        if not is_written(cell):
            continue
        meta = nbgrader_meta(cell)
        name = meta["grade_id"]
        assert meta["points"] > 0 and not meta["locked"] and not meta["task"] and meta["schema_version"] == 3, meta
        question = cells[index - 1]
        assert question.cell_type == "markdown" and not nbgrader_meta(question) and \
            question.metadata.get("editable") is False and question.metadata.get("deletable") is False, \
            f"{name}: the question above it should be a read-only markdown cell that nbgrader does not track"
        heading = re.match(r"### Exercise \d+ \((\d+) points?, written\)", question.source)
        assert heading and int(heading[1]) == meta["points"], f"{name}: its question's heading {question.source[:60]!r}"
        assert "graded by hand" in " ".join(question.source.split()), f"{name}: its question should say so"
        assert cell.source.startswith("### BEGIN SOLUTION\n") and cell.source.endswith("\n### END SOLUTION"), \
            f"{name}: the whole answer cell should be its solution region"
        region = SOLUTION.search(cell.source)[1]
        assert "**Rubric" in region, f"{name}: no rubric for the grader"
        model, rubric = region.split("**Rubric", 1)
        assert "**Model answer.**" in model, f"{name}: no model answer"
        awarded = [float(p) for p in re.findall(r"^- (\d+(?:\.\d+)?) points? for ", rubric, re.M)]
        assert sum(awarded) == meta["points"], f"{name}: the rubric gives {awarded}, the answer {meta['points']}"
        assert released[name].source == ANSWER_PROMPT, f"{name}: the release should hold nbgrader's prompt alone"


@pytest.mark.parametrize("path", SOLUTION_NOTEBOOKS, ids=lambda p: str(p.relative_to(SOLUTIONS)))
def test_every_watched_exercise_says_what_it_may_not_call(path):
    """A check that forbids a function (check.own_work) is announced in the exercise's statement."""
    cells = nbformat.read(path, 4).cells
    for index, cell in enumerate(cells):
        if cell.metadata.get("nbgrader", {}).get("grade") and "check.own_work(" in cell.source:
            statement = next(c for c in reversed(cells[:index]) if c.cell_type == "markdown")
            assert "may not call" in " ".join(statement.source.lower().split()), \
                f"{cell.metadata['nbgrader']['grade_id']}: its statement does not say what it may not call"
