"""What the course tests share: where things are, and a scratch copy of the course for nbgrader to work in."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, RELEASE = ROOT / "solutions", ROOT / "course"


def assignments():
    """Every assignment (a folder of notebooks under solutions/), found rather than listed by hand."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebooks(folder):
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def nbgrader_meta(cell):
    """A cell's nbgrader metadata ({} for a cell nbgrader does not track)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test(cell):
    """An autograded test cell: graded, and not an answer."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution")


def is_written(cell):
    """A written answer: a markdown cell that nbgrader grades by hand (a "manually graded answer", graded and a
    solution). Autograding gives it 0 while it is as released, and leaves any other answer to a grader."""
    meta = nbgrader_meta(cell)
    return cell["cell_type"] == "markdown" and bool(meta.get("grade")) and bool(meta.get("solution"))


def printed(outputs):
    """What a cell printed (its stdout), whole. The kernel sends a cell's output on a timer, and print() writes
    each argument and separator on its own, so one printed line can arrive as two outputs."""
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")


def points(cells):
    """What the (graded) cells are worth."""
    return sum(nbgrader_meta(cell)["points"] for cell in cells)


def scratch_course(tmp_path):
    """A copy of what nbgrader needs (config and sources), so tests never touch the checkout."""
    course = tmp_path / "course_root"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(SOLUTIONS, course / "solutions", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return course


def start_nbgrader(course, *args):
    """Start one of nbgrader's own commands in `course`, as an instructor would type it; see finish_nbgrader.
    Its output goes to a file, so that a long run never blocks on a full pipe."""
    env = dict(os.environ, ATTNLAB_PROGRESS="0")
    log = open(course / f"nbgrader-{args[0]}.log", "w+")
    process = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, text=True,
                               stdout=log, stderr=subprocess.STDOUT)
    return process, log


# A class of 13 students (six hand in one notebook of each assignment), every notebook run once and the mishaps'
# twice (the clean room), beside the other test files on a 2-core machine: 5 to 15 minutes an assignment. The wait
# is for a hung command, not for a slow one.
NBGRADER_TIMEOUT = 2700


def finish_nbgrader(started, timeout=NBGRADER_TIMEOUT):
    """Wait for a command from start_nbgrader; it must succeed. Returns its output."""
    process, log = started
    try:
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
        log.seek(0)
        output = log.read()
        log.close()
    assert process.returncode == 0, f"nbgrader {' '.join(map(str, process.args[3:]))} failed:\n{output[-5000:]}"
    return output


def nbgrader(course, *args, timeout=NBGRADER_TIMEOUT):
    """Run one of nbgrader's own commands in `course` and wait for it."""
    return finish_nbgrader(start_nbgrader(course, *args), timeout)


HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)


def secret_lines():
    """Lines of the solutions and hidden tests that a student must not see: each line of a solution region or
    hidden test in solutions/ that is not also visible in the release or written in the library (the library is
    the reference the checks compare with, public by design), ignoring short lines (a blank, `return x`)."""
    secret, public = set(), set()
    for path in notebooks(SOLUTIONS):
        for cell in nbformat.read(path, 4).cells:
            for pattern in (HIDDEN, SOLUTION):
                secret.update(line.strip() for block in pattern.findall(cell.source) for line in block.splitlines())
    for path in notebooks(RELEASE):
        public.update(line.strip() for cell in nbformat.read(path, 4).cells for line in cell.source.splitlines())
    for path in (ROOT / "lib").rglob("*.py"):
        public.update(line.strip() for line in path.read_text().splitlines())
    return {line for line in secret - public if len(line) > 12}


def leaks(folder):
    """(file, line) for every secret line or nbgrader marker line in any file under `folder`."""
    secrets, found = secret_lines() | {"### BEGIN HIDDEN TESTS", "### BEGIN SOLUTION"}, []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # a binary file (a checkpoint, an image) holds no source text
        if path.suffix == ".ipynb":  # compare cell sources, not their JSON escaping
            text = "\n".join(cell.source for cell in nbformat.reads(text, 4).cells)
        found += sorted((path, line) for line in {line.strip() for line in text.splitlines()} & secrets)
    return found


def student_files(tree):
    """The top-level names of a tree."""
    return sorted(p.name for p in Path(tree).iterdir())
