"""What gets graded: the course (Course), each student's submission of an assignment (Submission), checked.

Before any grading, each student's folder is checked for what nbgrader would fail on with a traceback (a file that
is not a notebook, an empty one, another assignment's notebook): such a file is left out, as if not submitted, and
the summary at the end says why. A submission autograded before is skipped, as nbgrader would (`already_graded`).
"""
import os
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader


@dataclass
class Submission:
    """One student's submission of one assignment, and what became of it."""
    assignment: str
    student: str
    left_out: list = field(default_factory=list)  # files not given to nbgrader (see check_submission)
    notes: list = field(default_factory=list)  # what the instructor should know, even when it was graded
    status: str = "waiting"  # then "graded", "failed", "killed", "skipped" (graded before) or "ungradable"
    reason: str = ""  # why it failed, was killed or is ungradable
    seconds: float = 0.0
    log: Path = None


class Course:
    """The course as its nbgrader_config.py describes it: folders, sqlite gradebook, each notebook's exercises."""

    def __init__(self, root="."):
        self.root = Path(root).resolve()
        if not (self.root / "nbgrader_config.py").is_file():
            raise ValueError(f"{self.root} has no nbgrader_config.py: give the course root (the folder that has it)")
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        config.CourseDirectory.root = str(self.root)
        self.dirs = CourseDirectory(config=config)
        if not self.dirs.db_url.startswith("sqlite:///"):
            raise ValueError(f"parallel grading needs nbgrader's sqlite gradebook (sqlite:///...), "
                             f"got db_url {self.dirs.db_url!r}")
        self.gradebook = Path(self.dirs.db_url.removeprefix("sqlite:///"))
        # (assignment, notebook) -> the names of its graded and answer cells, which say which notebook a file is
        self.exercises = {(path.parent.name, path.stem): tracked_cells(nbformat.read(path, 4))
                          for path in sorted(self.glob("source", ".", "*", "*.ipynb"))}

    def path(self, step, student, assignment):
        """nbgrader's folder of one step ("source", "submitted", "autograded") for a student and an assignment."""
        return Path(self.dirs.format_path(getattr(self.dirs, f"{step}_directory"), student, assignment))

    def glob(self, step, student, assignment, *below):
        """Path.glob over nbgrader's folders, with "*" for the student or the assignment."""
        return self.root.glob(str(Path(self.path(step, student, assignment).relative_to(self.root), *below)))

    def notebooks(self, assignment):
        return sorted(name for owner, name in self.exercises if owner == assignment)

    def graded_assignments(self):
        """The assignments nbgrader can autograde: those `generate_assignment` put in the gradebook."""
        if not self.gradebook.is_file():
            return []
        with closing(sqlite3.connect(self.gradebook)) as db:
            return sorted(name for name, in db.execute("SELECT name FROM assignment"))

    def students(self, assignment):
        return sorted(path.parent.name for path in self.glob("submitted", "*", assignment)
                      if path.is_dir() and not path.parent.name.startswith("."))


def tracked_cells(nb):
    meta = (cell.get("metadata", {}).get("nbgrader", {}) for cell in nb.cells)
    return {m["grade_id"] for m in meta if "grade_id" in m and (m.get("grade") or m.get("solution"))}


def notebook_problem(course, assignment, path):
    """Why nbgrader cannot grade the file `path` as the notebook of `assignment` it is named after, or None."""
    if path.stat().st_size == 0:
        return "is empty (0 bytes)"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several types for a file that is not a notebook
        return f"is not a notebook ({str(error).splitlines()[0][:80] or type(error).__name__})"
    if not nb.cells:
        return "is an empty notebook (no cells)"
    cells = tracked_cells(nb)
    overlap = {key: len(cells & names) for key, names in course.exercises.items()}
    best = max(overlap, key=overlap.get)
    if overlap[assignment, path.stem] == 0 or overlap[best] > overlap[assignment, path.stem]:
        if overlap[best] == 0:
            return "has none of this notebook's exercises (nbgrader's cell metadata is gone: a fresh notebook?)"
        return f"holds the exercises of {best[0]}/{best[1]}.ipynb"
    return None


def check_submission(course, submission):
    """Fill in the files to leave out of a submission, and notes on it, before nbgrader sees it."""
    folder = course.path("submitted", submission.student, submission.assignment)
    expected = course.notebooks(submission.assignment)
    ignored = shutil.ignore_patterns(*course.dirs.ignore, "timestamp.txt")
    names = sorted(set(os.listdir(folder)) - ignored(str(folder), os.listdir(folder)))
    for name in names:
        path, stem = folder / name, Path(name).stem
        if path.is_dir() or path.suffix != ".ipynb":
            submission.notes.append(f"{name} is not a notebook: not graded")
        elif stem not in expected:
            owner = next((a for a, nb in course.exercises if nb == stem), None)
            home = owner and course.path("submitted", submission.student, owner).relative_to(course.root)
            where = f"belongs to {owner}: move it to {home}/" if owner else \
                f"is not a notebook of {submission.assignment} ({', '.join(expected)})"
            submission.notes.append(f"{name} {where}; not graded here")
        elif problem := notebook_problem(course, submission.assignment, path):
            submission.left_out.append(name)
            submission.notes.append(f"{name} {problem}: left out, as if not submitted")
    present = {Path(name).stem for name in names}
    if not present & (set(expected) - {Path(name).stem for name in submission.left_out}):
        submission.status, submission.reason = "ungradable", "no notebook of this assignment that nbgrader can grade"
    else:
        submission.notes += [f"{stem}.ipynb is missing: scores 0" for stem in expected if stem not in present]


def already_graded(course, submission):
    """nbgrader's own rule: a submission autograded before is skipped, unless it was submitted again since."""
    done = course.path("autograded", submission.student, submission.assignment)
    if not done.exists():
        return False
    new = course.dirs.get_existing_timestamp(str(course.path("submitted", submission.student, submission.assignment)))
    old = course.dirs.get_existing_timestamp(str(done))
    return not (new and old and new > old)


def plan(course, assignments, students=None, force=False):
    """The submissions to grade, checked; a ValueError, before any grading, for an argument that cannot work."""
    known = course.graded_assignments()
    if not assignments:
        raise ValueError(f"name at least one assignment; the gradebook has: {', '.join(known) or 'none'}")
    for assignment in assignments:
        if assignment not in known:
            hint = (f"run `nbgrader generate_assignment {assignment}` first" if course.notebooks(assignment)
                    else f"the gradebook has: {', '.join(known) or 'none (run nbgrader generate_assignment)'}")
            raise ValueError(f"unknown assignment {assignment!r}: {hint}")
        if not course.students(assignment):
            raise ValueError(f"no submissions of {assignment}: a student's notebooks go in "
                             f"{course.path('submitted', '<student>', assignment).relative_to(course.root)}/")
    submitted = {a: course.students(a) for a in dict.fromkeys(assignments)}
    unknown = sorted(set(students or ()) - {s for found in submitted.values() for s in found})
    if unknown:
        raise ValueError(f"no submission of {', '.join(submitted)} from: {', '.join(unknown)}")
    submissions = [Submission(a, s) for a, found in submitted.items() for s in found if not students or s in students]
    for submission in submissions:
        check_submission(course, submission)
        if submission.status == "waiting" and not force and already_graded(course, submission):
            submission.status = "skipped"
    return submissions
