"""Running nbgrader per submission, several at a time, and recording each result into the course's gradebook.

Each submission is graded by nbgrader's own `nbgrader autograde ASSIGNMENT --student STUDENT`, in a scratch copy of
the course with its own copy of the gradebook; then this process, and only this process, writes the result into the
course: the submission's rows into gradebook.db in one transaction, its notebooks into autograded/. Why copies
rather than N runs on the one gradebook: sqlite does serialize writers (a stress test of 16 processes writing as
nbgrader does saw no lock error), but nbgrader writes a submission's grades cell by cell while it runs it, so a run
that fails or is killed halfway would leave half-updated grades behind, and a write that waits past sqlite's 5 s
lock timeout fails the whole run with advice to upgrade the database. Here a submission reaches the gradebook whole
or not at all, and the grades do not depend on the number of workers.

A submission that crashes nbgrader or runs past the limit (its processes are then killed) is reported too and
changes nothing; the others are graded all the same. Don't hand-grade in the formgrader while a class is being
autograded: a regraded submission's rows are replaced whole.
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from pathlib import Path

import psutil
from tqdm.auto import tqdm

from .submissions import Course, plan

# Longer than a few of nbgrader's cell timeouts (120 s each), so that nbgrader stops a loop in a cell itself and
# this limit only catches a submission that stalls as a whole.
LIMIT = 900
LOGS = ".logs"  # under autograded/: hidden, so nbgrader's globs (autograded/*/ASSIGNMENT) never take it for a student


def kill_tree(process):
    """Kill an nbgrader run and its kernel: jupyter starts kernels in a session of their own, out of the group."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    process.kill()
    process.wait()


def failure_reason(log):
    """nbgrader's first specific error in a log, else the last line of its traceback."""
    lines = log.splitlines()
    errors = [line.split("| ERROR]", 1)[1].strip() for line in lines if "| ERROR]" in line]
    specific = [e for e in errors if not e.startswith(("There was an error", "Traceback", "Please see the"))]
    if specific:
        return specific[0]
    raised = [line.strip() for line in lines if line.startswith("    ") and not line.strip().startswith(("File ", "^"))]
    return raised[-1] if raised else "nbgrader failed (see its log)"


def relative(course, step, submission):
    return course.path(step, submission.student, submission.assignment).relative_to(course.root)


def run_nbgrader(course, submission, workdir, limit, running):
    """Autograde one submission in a scratch course at `workdir` (a worker thread); sets its status."""
    start = time.perf_counter()
    workdir.mkdir(parents=True)
    shutil.copy(course.root / "nbgrader_config.py", workdir)
    shutil.copytree(course.path("source", ".", submission.assignment),
                    workdir / course.path("source", ".", submission.assignment).relative_to(course.root))
    shutil.copytree(course.path("submitted", submission.student, submission.assignment),
                    workdir / relative(course, "submitted", submission),
                    ignore=shutil.ignore_patterns(*course.dirs.ignore, *submission.left_out))
    with closing(sqlite3.connect(course.gradebook)) as main, closing(sqlite3.connect(workdir / "gradebook.db")) as copy:
        main.backup(copy)  # a consistent snapshot, even while the main thread records another submission
    submission.log = course.root / course.dirs.autograded_directory / LOGS / submission.assignment / \
        f"{submission.student}.log"
    submission.log.parent.mkdir(parents=True, exist_ok=True)
    # One thread per run, since the workers share the cores; a relative PYTHONPATH (lib) would not reach from workdir.
    env = dict(os.environ, ATTNLAB_PROGRESS="0", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               PYTHONPATH=os.pathsep.join(str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(
                   os.pathsep) if p))
    command = [sys.executable, "-m", "nbgrader", "autograde", submission.assignment, "--student", submission.student,
               f"--CourseDirectory.root={workdir}", f"--CourseDirectory.db_url=sqlite:///{workdir / 'gradebook.db'}"]
    with open(submission.log, "w") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # Ctrl-C reaches this process, which kills the runs
        running.add(process)
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            kill_tree(process)
            submission.status, submission.reason = "killed", f"still running after {limit:g} s (--limit): killed"
        finally:
            running.discard(process)
    submission.seconds = time.perf_counter() - start
    if submission.status == "killed":
        return
    if process.returncode == 0 and (workdir / relative(course, "autograded", submission)).is_dir():
        submission.status = "graded"
    else:
        submission.status, submission.reason = "failed", failure_reason(submission.log.read_text(errors="replace"))


def submission_rows(db):
    """Per table, the query for the ids of one submission's rows (:student, :assignment) in database `db`, parents
    first: the gradebook tables autograding writes, besides the student."""
    assignments = (f"SELECT s.id FROM {db}.submitted_assignment s JOIN {db}.assignment a ON s.assignment_id = a.id "
                   "WHERE s.student_id = :student AND a.name = :assignment")
    notebooks = f"SELECT id FROM {db}.submitted_notebook WHERE assignment_id IN ({assignments})"
    return {"submitted_assignment": assignments, "submitted_notebook": notebooks,
            "grade": f"SELECT id FROM {db}.grade WHERE notebook_id IN ({notebooks})",
            "comment": f"SELECT id FROM {db}.comment WHERE notebook_id IN ({notebooks})"}


def record(course, submission, workdir):
    """Write a graded submission into the course (main thread only, so the gradebook has one writer): its rows
    replace the gradebook's for that student and assignment in one transaction, then its notebooks autograded/'s.
    Rows keep their ids: nbgrader's ids are UUIDs, and the worker's gradebook was a copy of this one."""
    names = {"student": submission.student, "assignment": submission.assignment}
    with closing(sqlite3.connect(course.gradebook, timeout=60)) as db:
        db.execute("ATTACH DATABASE ? AS worker", (str(workdir / "gradebook.db"),))
        with db:
            db.execute("INSERT OR IGNORE INTO main.student SELECT * FROM worker.student WHERE id = :student", names)
            for table, rows in reversed(submission_rows("main").items()):  # children first
                db.execute(f"DELETE FROM main.{table} WHERE id IN ({rows})", names)
            for table, rows in submission_rows("worker").items():
                db.execute(f"INSERT INTO main.{table} SELECT * FROM worker.{table} WHERE id IN ({rows})", names)
    destination = course.path("autograded", submission.student, submission.assignment)
    if destination.exists():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(workdir / relative(course, "autograded", submission), destination)


def grade(course, submissions, workers, limit=LIMIT, progress=True):
    """Grade the waiting submissions with `workers` runs at a time, longest assignments first (fewer idle workers at
    the end); record each as it finishes. Returns the seconds it took."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not limit > 0:
        raise ValueError(f"limit must be a number of seconds above 0, got {limit}")
    waiting = sorted((s for s in submissions if s.status == "waiting"),
                     key=lambda s: (-len(course.notebooks(s.assignment)), s.assignment, s.student))
    start, scratch, running = time.perf_counter(), Path(tempfile.mkdtemp(prefix="attnlab-grading-")), set()
    pool = ThreadPoolExecutor(workers)
    bar = tqdm(total=len(waiting), unit="submission", desc="autograding", file=sys.stderr,
               disable=not progress or os.environ.get("ATTNLAB_PROGRESS", "1") == "0")
    try:
        futures = {pool.submit(run_nbgrader, course, s, scratch / str(i), limit, running): (s, scratch / str(i))
                   for i, s in enumerate(waiting)}
        for future in as_completed(futures):
            submission, workdir = futures[future]
            try:
                future.result()
                if submission.status == "graded":
                    record(course, submission, workdir)
            except Exception as error:  # whatever went wrong is this submission's problem, not the class's
                submission.status, submission.reason = "failed", f"could not be graded or recorded: {error}"
            shutil.rmtree(workdir, ignore_errors=True)
            bar.update()
            bar.set_postfix(failed=sum(s.status in ("failed", "killed") for s in waiting), refresh=False)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for process in list(running):  # only after an interrupt: each run removes itself when it ends
            kill_tree(process)
        bar.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return time.perf_counter() - start


def grade_class(root, assignments, workers, limit=LIMIT, students=None, force=False, progress=True):
    """Plan and grade a class; returns its submissions (see Submission) and the seconds the grading took."""
    course = Course(root)
    submissions = plan(course, assignments, students, force)
    return submissions, grade(course, submissions, workers, limit, progress)


def summary(submissions, seconds, workers):
    """What an instructor reads at the end: counts, then each problem, each with where to look."""
    count = {status: sum(s.status == status for s in submissions) for status in
             ("graded", "skipped", "failed", "killed", "ungradable")}
    lines = [f"{count['graded']} of {len(submissions)} submissions graded in {seconds / 60:.1f} min with {workers} "
             f"worker{'s' * (workers > 1)}" + (f"; {count['skipped']} graded before, skipped (--force regrades)"
                                               if count["skipped"] else "") + "."]
    noted = [s for s in submissions if s.notes]
    if noted:
        lines.append("Notes on submissions:")
        lines += [f"  {s.student} / {s.assignment}: {note}" for s in noted for note in s.notes]
    failed = [s for s in submissions if s.status in ("failed", "killed", "ungradable")]
    if failed:
        lines.append("Not graded (the gradebook keeps what it had for these):")
        lines += [f"  {s.student} / {s.assignment}: {s.reason}" + (f" (log: {s.log})" if s.log else "")
                  for s in failed]
    return "\n".join(lines)
