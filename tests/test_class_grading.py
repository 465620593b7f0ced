"""Grading a class at once (`python -m attnlab.grading`) and collecting notebooks from outside the hub
(`nbgrader zip_collect` with the course's file-name convention), on part0_foundations, the quickest assignment.

One class is graded with 2 workers while nbgrader's own serial `autograde` grades the same good submissions in a copy
of the course: the gradebooks must agree exactly. The class also holds a kernel that dies and files nbgrader cannot
grade; none of them may stop or change anyone else's grading. A notebook that hangs is killed at the time limit.
"""
import contextlib
import copy
import csv
import io
import re
import shutil
import sqlite3
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor

import nbformat
import psutil
import pytest
from nbgrader.api import Gradebook
from traitlets.config.loader import PyFileConfigLoader

from attnlab import grading
from attnlab.grading import __main__ as grading_main
from course import ROOT, RELEASE, finish_nbgrader, nbgrader, scratch_course, start_nbgrader
from test_grading import answer_indices, first_answer_only, full_marks

ASSIGNMENT = "part0_foundations"
NOTEBOOK = "01_attention_from_scratch"
OTHER = RELEASE / "part1_depth" / "01_memorization.ipynb"  # another assignment's notebook


def with_first_answer(source):
    """The solution with its first answer replaced: what goes wrong, goes wrong at once."""
    def make(solution, release, first):
        nb = copy.deepcopy(solution)
        nb.cells[answer_indices(nb)[0]].source = source
        return nb, None
    return make


# A hang is graded in a class of its own, with a limit (below the course's 120 s cell timeout, so that this limit,
# not nbgrader's, stops it) too short for a submission that works: on this shared machine that can take minutes.
HANGS = "abe_hangs"
LIMIT = "60"
# Full marks and part of them (test_grading covers the zero of an untouched notebook).
GOOD = {"alice_solution": full_marks, "carol_partial": first_answer_only}
BROKEN = {"dan_kernel_dies": with_first_answer("import os\nos._exit(1)")}
# student -> the file they hand in (name, content) and the note the summary must give on it
BAD = {
    "frank_pdf": (f"{NOTEBOOK}.ipynb", b"%PDF-1.4\n", "is not a notebook"),
    "gina_empty_file": (f"{NOTEBOOK}.ipynb", b"", "is empty (0 bytes)"),
    "hank_no_cells": (f"{NOTEBOOK}.ipynb", nbformat.writes(nbformat.v4.new_notebook()),
                      "is an empty notebook (no cells)"),
    "ivy_other_assignment": (OTHER.name, OTHER.read_text(), "belongs to part1_depth"),
    "jack_other_notebook_renamed": (f"{NOTEBOOK}.ipynb", OTHER.read_text(),
                                    "holds the exercises of part1_depth/01_memorization.ipynb"),
}


def write(course, student, name, content):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def submit(course, students):
    solution = nbformat.read(course / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    release = nbformat.read(course / "course" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
    for student, make in students.items():
        write(course, student, f"{NOTEBOOK}.ipynb", nbformat.writes(make(solution, release, first=True)[0]))


def snapshot(course):
    """Every file under submitted/, with its bytes."""
    return {p.relative_to(course): p.read_bytes() for p in sorted((course / "submitted").rglob("*")) if p.is_file()}


def grades(course, students):
    """Everything autograding records for each student, by name (ids differ between gradebooks)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {student: {nb.name: ({g.name: (g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                                     for g in nb.grades},
                                    {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
                                    nb.flagged, nb.late_submission_penalty)
                          for nb in gradebook.find_submission(ASSIGNMENT, student).notebooks}
                for student in students}


def recorded(course):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {s.student_id for s in gradebook.find_assignment(ASSIGNMENT).submissions}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A scratch course whose gradebook knows the assignment, before any submission."""
    course = scratch_course(tmp_path_factory.mktemp("generated"))
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course


def copy_of(generated, tmp_path_factory, name):
    return shutil.copytree(generated, tmp_path_factory.mktemp(name) / "course")


# Downloads from outside the hub, in downloaded/ASSIGNMENT/archive/: name -> (student, notebook), or None: skipped.
DOWNLOADS = {"uma_01_attention_from_scratch.ipynb": ("uma", NOTEBOOK),
             "vic_lee_Copy of 01_attention_from_scratch (1).ipynb": ("vic_lee", NOTEBOOK),
             "01_attention_from_scratch.ipynb": None,  # no student id: never guessed
             ".._01_attention_from_scratch.ipynb": None,  # not a student id: nothing lands outside submitted/
             "xena_essay.pdf": None,
             "yuri_01_memorization.ipynb": ("yuri", "01_memorization")}  # collected; grading says where it belongs
IN_ZIP = {"walt_01_attention_from_scratch-2.ipynb": ("walt", NOTEBOOK), "notes.txt": None}


def download(course, files):
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    for name in files:
        (archive / name).write_text(f"{{}} {name}")  # the content says which file it was
    return archive


def hand_in_downloads(collect, duplicate):
    """The zip_collect courses: each has a student from the hub; `collect` gets DOWNLOADS and a zip of IN_ZIP,
    `duplicate` two files for one student's notebook."""
    for tree in (collect, duplicate):
        write(tree, "zoe", f"{NOTEBOOK}.ipynb", "zoe's, from the hub")
    with zipfile.ZipFile(download(collect, DOWNLOADS) / "lms.zip", "w") as archive:
        for name in IN_ZIP:
            archive.writestr(name, f"{{}} {name}")
    download(duplicate, ["uma_01_attention_from_scratch.ipynb", "uma_01_attention_from_scratch (1).ipynb"])


@pytest.fixture(scope="module")
def graded(generated, tmp_path_factory):
    """The class graded with 2 workers, next to nbgrader's serial autograde of the good submissions in a copy, the
    hang's class and both zip_collect runs in copies of their own: all started at once."""
    course, serial, hang, collect, duplicate = (copy_of(generated, tmp_path_factory, name)
                                                for name in ("parallel", "serial", "hang", "collect", "duplicate"))
    submit(course, {**GOOD, **BROKEN})
    for student, (name, content, _) in BAD.items():
        write(course, student, name, content)
    write(course, "carol_partial", "notes.txt", "I did my best")
    submit(serial, GOOD)
    # The hanging kernel names itself, so that the test can find it from outside its sandbox (where it can write no
    # file and its pid is not the host's) and see that it was killed.
    submit(hang, {HANGS: with_first_answer(f"import time\nopen('/proc/self/comm', 'w').write({HANGS!r})\n"
                                           "time.sleep(3600)")})
    hand_in_downloads(collect, duplicate)
    before = snapshot(course)
    started = [start_nbgrader(serial, "autograde", ASSIGNMENT)] + \
        [start_nbgrader(tree, "zip_collect", ASSIGNMENT) for tree in (collect, duplicate)]
    hang_class = grading.plan(grading.Course(hang), [ASSIGNMENT])
    side = ThreadPoolExecutor(2)
    hanging = side.submit(grading.grade, grading.Course(hang), hang_class, 1, float(LIMIT), progress=False)
    kernel = side.submit(named_process, HANGS, hanging)
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            code = grading_main.main([ASSIGNMENT, "--workers", "2", "--course", str(course)])
        finish_nbgrader(started[0])
        collected = [finish(process) for process in started[1:]]
        hang_summary = grading.summary(hang_class, hanging.result(timeout=600), 1)
    finally:
        for process, _ in started:
            if process.poll() is None:
                process.kill()
        side.shutdown()
    return dict(course=course, serial=serial, output=output.getvalue(), code=code, before=before,
                collect=(collect, *collected[0]), duplicate=(duplicate, *collected[1]),
                hang=(hang, kernel.result(timeout=60), hang_class, hang_summary))


def named_process(name, until):
    """The pid of the process that calls itself `name`, looked for until the future `until` is done; or None."""
    while not until.done():
        found = [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == name]
        if found:
            return found[0]
        time.sleep(0.5)
    return None


def finish(started):
    """Wait for a command that may fail; (its exit status, its output)."""
    process, log = started
    process.wait(timeout=600)
    log.seek(0)
    return process.returncode, log.read()


def test_two_workers_grade_exactly_as_nbgrader_alone(graded):
    parallel, serial = grades(graded["course"], GOOD), grades(graded["serial"], GOOD)
    assert parallel == serial
    scores = {student: sum(g[0] or 0 for nb in by_notebook.values() for g in nb[0].values())
              for student, by_notebook in parallel.items()}
    assert scores["alice_solution"] > scores["carol_partial"] > 0


def test_a_crash_costs_only_that_student(graded):
    output, course = graded["output"], graded["course"]
    assert graded["code"] == 1  # failures are an error for scripts
    assert re.search(r"dan_kernel_dies / part0_foundations: Kernel died", output), output
    assert recorded(course) == set(GOOD)  # nothing half-recorded
    assert sorted(p.name for p in (course / "autograded").iterdir() if not p.name.startswith(".")) == sorted(GOOD)
    assert (course / "autograded" / grading.LOGS / ASSIGNMENT / "dan_kernel_dies.log").exists()


def alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # a zombie is dead, waiting to be reaped
    except psutil.NoSuchProcess:
        return False


def test_a_hang_is_killed_at_the_limit_kernel_and_all(graded):
    course, pid, (submission,), summary = graded["hang"]
    assert submission.status == "killed"
    assert f"{HANGS} / part0_foundations: still running after {LIMIT} s (--limit): killed" in summary, summary
    assert recorded(course) == set()
    assert pid, f"the kernel never reached the hanging cell in {LIMIT} s: is the machine that busy?"
    assert not alive(pid), "the hanging kernel outlived its grading"
    leftovers = [p.cmdline() for p in psutil.Process().children(recursive=True)]
    assert not leftovers, f"processes left running: {leftovers}"


@pytest.mark.parametrize("student", BAD)
def test_a_file_nbgrader_cannot_grade_gets_a_clear_note(graded, student):
    note = BAD[student][2]
    assert re.search(rf"{student} / part0_foundations: \S+ {re.escape(note)}", graded["output"]), graded["output"]
    assert f"{student} / part0_foundations: no notebook of this assignment that nbgrader can grade" in graded["output"]
    assert "Traceback" not in graded["output"]


def test_a_stray_file_is_noted_and_its_owner_graded(graded):
    assert "carol_partial / part0_foundations: notes.txt is not a notebook: not graded" in graded["output"]
    assert "carol_partial" in recorded(graded["course"])


def test_submissions_are_untouched_and_each_student_gets_only_their_own(graded):
    course = graded["course"]
    assert snapshot(course) == graded["before"]
    for student in GOOD:
        submitted = nbformat.read(course / "submitted" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
        autograded = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb", 4)
        answers = [c.source for c in submitted.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
        assert answers == [c.source for c in autograded.cells
                           if c.get("metadata", {}).get("nbgrader", {}).get("solution")], student


def test_nbgraders_next_commands_run_after_bad_input(graded):
    course = graded["course"]
    feedback, export = start_nbgrader(course, "generate_feedback", ASSIGNMENT), \
        start_nbgrader(course, "export", "--to", "grades.csv")
    finish_nbgrader(feedback)
    finish_nbgrader(export)
    assert {row["student_id"] for row in csv.DictReader((course / "grades.csv").open())} == set(GOOD)
    assert all((course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").exists() for student in GOOD)


def test_a_second_run_skips_what_was_graded(graded):
    course = grading.Course(graded["course"])
    status = {s.student: s.status for s in grading.plan(course, [ASSIGNMENT])}
    assert {s for s, state in status.items() if state == "skipped"} == set(GOOD)
    assert {status[s] for s in BROKEN} == {"waiting"}  # tried again


def test_recording_a_regrade_replaces_the_students_rows_whole(graded, tmp_path):
    """record() on a submission already in the gradebook: its rows are replaced, no one else's change."""
    course = grading.Course(shutil.copytree(graded["course"], tmp_path / "course"))  # a copy: the others stay as graded
    workdir = tmp_path / "worker"
    shutil.copytree(course.root / "autograded" / "carol_partial", workdir / "autograded" / "carol_partial")
    shutil.copy(course.gradebook, workdir / "gradebook.db")
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gradebook:
        for grade in gradebook.find_submission_notebook(NOTEBOOK, ASSIGNMENT, "carol_partial").grades:
            grade.auto_score = 0.5  # a regrade that scores differently
        gradebook.db.commit()
    alice, rows = grades(course.root, ["alice_solution"]), row_counts(course.gradebook)
    grading.record(course, grading.Submission(ASSIGNMENT, "carol_partial"), workdir)
    (carol,) = grades(course.root, ["carol_partial"])["carol_partial"].values()
    assert {score for score, *_ in carol[0].values()} == {0.5}
    assert grades(course.root, ["alice_solution"]) == alice
    assert row_counts(course.gradebook) == rows  # replaced, not added to


def row_counts(gradebook):
    with contextlib.closing(sqlite3.connect(gradebook)) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("student", "submitted_assignment", "submitted_notebook", "grade", "comment")}


@pytest.mark.parametrize("argv, message", [
    ([ASSIGNMENT, "--workers", "0"], "need an integer of at least 1"),
    (["part9_nothing"], "unknown assignment 'part9_nothing'"),
    (["part1_depth"], "run `nbgrader generate_assignment part1_depth` first"),
    ([ASSIGNMENT], "no submissions of part0_foundations"),
    ([ASSIGNMENT, "--limit", "0"], "need a number above 0"),
])
def test_argument_errors_say_so_before_any_work(generated, argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        grading_main.main([*argv, "--course", str(generated)])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert not (generated / "autograded").exists()


def test_the_library_says_what_is_allowed(generated):
    course = grading.Course(generated)
    with pytest.raises(ValueError, match="workers must be at least 1"):
        grading.grade(course, [], workers=0)
    with pytest.raises(ValueError, match="has no nbgrader_config.py"):
        grading.Course(generated / "solutions")


NAMES = {  # a downloaded file's path -> (student_id, file_id), or None where it is skipped
    "x/alice_01_attention_from_scratch.ipynb": ("alice", "01_attention_from_scratch"),
    "x/y/alice_smith_02_reasoning.ipynb": ("alice_smith", "02_reasoning"),
    "x/s_12_ab_02_reasoning.ipynb": ("s_12_ab", "02_reasoning"),
    "x/j.doe@uni.edu_01_attention_from_scratch-3.ipynb": ("j.doe@uni.edu", "01_attention_from_scratch"),
    "x/bob_Copy of 01_attention_from_scratch (1).ipynb": ("bob", "01_attention_from_scratch"),
    "x/01_attention_from_scratch.ipynb": None,
    "x/Copy of 01_attention_from_scratch.ipynb": None,
    "x/.._01_attention_from_scratch.ipynb": None,
    "x/alice/01_attention_from_scratch.ipynb": None,
}


@pytest.mark.parametrize("path", NAMES)
def test_the_file_name_convention(path):
    regexp = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config().FileNameCollectorPlugin.named_regexp
    match = re.match(regexp, path)
    assert (match and (match["student_id"], match["file_id"])) == NAMES[path]


def test_zip_collect_puts_each_download_in_its_students_folder(graded):
    course, code, output = graded["collect"]
    assert code == 0, output
    downloads = {**DOWNLOADS, **IN_ZIP}
    for name, (student, notebook) in ((n, where) for n, where in downloads.items() if where):
        assert (course / "submitted" / student / ASSIGNMENT / f"{notebook}.ipynb").read_text() == f"{{}} {name}"
    assert (course / "submitted" / "zoe" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text() == "zoe's, from the hub"
    students = {where[0] for where in downloads.values() if where} | {"zoe"}
    assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted(students)
    assert not (course / ASSIGNMENT).exists()  # nothing above submitted/
    skipped = [line for line in output.splitlines() if "Skipped submission with no match information" in line]
    assert sorted(line.rsplit("/", 1)[1] for line in skipped) == sorted(n for n, to in downloads.items() if not to)
    (yuri,) = [s for s in grading.plan(grading.Course(course), [ASSIGNMENT]) if s.student == "yuri"]
    assert "01_memorization.ipynb belongs to part1_depth: move it to submitted/yuri/part1_depth/" in yuri.notes[0]


def test_zip_collect_refuses_two_files_for_one_notebook(graded):
    course, code, output = graded["duplicate"]
    assert code != 0 and "Duplicate submission file" in output
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["zoe"]  # nothing copied, nothing replaced
    assert (course / "submitted" / "zoe" / ASSIGNMENT / f"{NOTEBOOK}.ipynb").read_text() == "zoe's, from the hub"
