"""The class hub's plugins for nbgrader, named in singleuser/nbgrader_config.py and formgrader/nbgrader_config.py
(which put this folder on sys.path):

- `OwnerVerifiedCollect` collects a submission only if its files belong to the student it is named after and are
  no newer than it says;
- `SubmitWithoutCheckpoints` checks the size limit against what submit copies, not Jupyter's checkpoints;
- `LatePenalty` takes a fraction of a late notebook's score per day late.
"""
import errno
import fnmatch
import math
import os
import pwd
import shutil
import stat
import tempfile
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.utils import check_mode, ignore_patterns, parse_utc
from traitlets import Bool, Float, Unicode

MAX_DEPTH = 16  # folders within a submission: far more than any assignment has


class Refused(Exception):
    """Why a submission is not collected."""


class OwnerVerifiedCollect(ExchangeCollect):
    """nbgrader's collect, trusting of a submission only what its student cannot fake: who owns its files.

    Every student may write into the inbound (that is how they hand in), so a submission's folder name (whose, and
    when) and its contents are that student's word. nbgrader's own collect only warns when the owner differs from
    the name, then takes the folder as that student's latest. Here a submission counts only if it is a folder of
    folders and regular files, all owned by the Unix user of the student it is named after (`owner_template`), no
    larger than CourseDirectory.max_dir_size, and not older than its files: the time they were last changed (their
    ctime, which no user can set) bounds when it was handed in, so a late student cannot pass off a submission, or
    one changed after the due date, as on time. Any other is refused, with the reason, and the student's latest
    submission that passes is collected instead. Files are read through descriptors opened without following links,
    so a submission cannot point the grader, who may read everything, at a file outside it, not even by changing
    while it is copied.
    """

    owner_template = Unicode(
        "jupyter-{student}", allow_none=True,
        help="The Unix user who must own a student's submission ({student}: the name it is handed in under); "
             "jupyter-{student} on The Littlest JupyterHub. None: owners not checked (every server runs as one "
             "user, as on Kubernetes); anyone may then hand in under any name.",
    ).tag(config=True)
    check_owner = Bool(False, help="nbgrader's warning about owners, replaced by owner_template's check")
    time_slack = Float(
        120.0,
        help="Seconds by which a submission's time (in its name and its timestamp.txt, which nbgrader grades "
             "lateness by) may come before its files were last written: nbgrader's submit notes the time, then "
             "copies. A submission that says it is older than that is refused.",
    ).tag(config=True)

    def init_src(self):
        """nbgrader's, except that a folder whose name does not parse, or which fails the checks, is refused with
        the reason in the log, where nbgrader would stop the whole collection or collect it."""
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        if not check_mode(self.inbound_path, read=True, execute=True):
            self.fail(f"You don't have read permissions for the directory: {self.inbound_path}")
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gradebook:
            try:
                self.duedate = gradebook.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        if self.owner_template is None:
            self.log.warning("Submissions' owners are not checked (OwnerVerifiedCollect.owner_template is None): "
                             "a student can hand in under another student's name.")

        by_student = defaultdict(list)
        for name in os.listdir(self.inbound_path):
            record = self.record(name)
            if record:
                by_student[record["username"]].append(record)
        self.staged, self.src_records = {}, []
        for student, records in sorted(by_student.items()):
            for record in self.preferred(records):  # nbgrader's choice first, then the next best
                try:
                    staged = self.stage(record)
                except Refused as why:
                    self.log.error(f"Refused {record['filename']}, handed in under the name {student}: {why}. "
                                   f"Not collected: {student}'s latest submission that passes these checks is, "
                                   f"if there is one.")
                    continue
                self.staged[os.path.join(self.inbound_path, record["filename"])] = staged
                self.src_records.append(record)
                break

    def record(self, name):
        """nbgrader's record of an inbound folder (student, filename, timestamp), None for another assignment's or
        one whose name does not parse."""
        # nbgrader's selection (a glob: the student id is "*" for all of them)
        if not fnmatch.fnmatchcase(name, f"{self.coursedir.student_id or '*'}+{self.coursedir.assignment_id}+*"):
            return None
        parts = name.rsplit("+", 3)
        try:
            return {"username": parts[0], "filename": name, "timestamp": parse_utc(parts[2])}
        except (ValueError, OverflowError, TypeError):
            self.log.error(f"Refused {name}: its name has no submission time. Not collected.")
            return None

    def preferred(self, records):
        """A student's submissions in nbgrader's order of preference: the latest, or with --before-duedate the
        latest before the due date, then the later ones."""
        latest_first = sorted(records, key=lambda record: record["timestamp"], reverse=True)
        if self.duedate is None or not self.before_duedate:
            return latest_first
        on_time = [record for record in latest_first if record["timestamp"] <= self.duedate]
        return on_time + [record for record in latest_first if record not in on_time]

    def stage(self, record):
        """Copy a submission into the staging folder, checking every file on the way; raises Refused."""
        owner = None
        if self.owner_template is not None:
            name = self.owner_template.format(student=record["username"])
            try:
                owner = pwd.getpwnam(name).pw_uid
            except KeyError:
                raise Refused(f"there is no Unix user {name} to own it") from None
        destination = self.staging / record["filename"]
        inbound = os.open(self.inbound_path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            checked = CheckedCopy(owner, 1000 * self.coursedir.max_dir_size)
            checked.copy(inbound, record["filename"], destination)
            # In naive UTC, as nbgrader's times are.
            written = datetime.fromtimestamp(checked.changed, timezone.utc).replace(tzinfo=None)
            said = min(record["timestamp"], self.stated_time(destination))
            if said < written - timedelta(seconds=self.time_slack):
                raise Refused(f"it says it was handed in at {said} UTC, but its files were last changed at "
                              f"{written:%Y-%m-%d %H:%M:%S} UTC")
        except Refused:
            shutil.rmtree(destination, ignore_errors=True)
            raise
        finally:
            os.close(inbound)
        return destination

    @staticmethod
    def stated_time(submission):
        """The time in a submission's timestamp.txt, which nbgrader grades lateness by (none: never late)."""
        try:
            return parse_utc((submission / "timestamp.txt").read_text().strip())
        except FileNotFoundError:
            raise Refused("it has no timestamp.txt") from None
        except (ValueError, OverflowError):
            raise Refused("its timestamp.txt holds no time") from None

    def do_copy(self, src, dest):
        """What nbgrader's copy_files asks for, from the checked copy (with nbgrader's ignore patterns)."""
        super().do_copy(str(self.staged[src]), dest)

    def start(self):
        """nbgrader's collection, with a staging folder for the checked copies, which only the grader can read (mode
        700), removed at the end."""
        self.staging = Path(tempfile.mkdtemp(prefix="attnlab-collect-"))
        try:
            return super().start()
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)


class CheckedCopy:
    """Copies a submission, only folders and regular files, each owned by the uid `owner` (any, if None), at most
    `budget` bytes in all; raises Refused, naming what failed by its path in the submission."""

    def __init__(self, owner, budget):
        self.owner, self.budget = owner, budget
        self.changed = 0.0  # when what it copied was last changed (the latest ctime), in seconds since the epoch

    def copy(self, folder, name, destination, shown="it", depth=0):
        """Copy `name`, in the folder open as `folder`, to `destination`."""
        if depth > MAX_DEPTH:
            raise Refused(f"folders nested more than {MAX_DEPTH} deep")
        try:  # O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: a named pipe cannot hang the grader
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
        except OSError as error:
            what = "a symbolic link" if error.errno == errno.ELOOP else f"unreadable ({error.strerror})"
            raise Refused(f"{shown} is {what}") from None
        try:
            info = os.fstat(fd)  # of what was opened: what the checks pass is what is copied
            self.changed = max(self.changed, info.st_ctime)
            if self.owner is not None and info.st_uid != self.owner:
                raise Refused(f"{shown} belongs to {user_name(info.st_uid)}, not {user_name(self.owner)}")
            if stat.S_ISDIR(info.st_mode):
                destination.mkdir()
                for entry in sorted(os.listdir(fd)):
                    self.copy(fd, entry, destination / entry, entry if depth == 0 else f"{shown}/{entry}", depth + 1)
            elif stat.S_ISREG(info.st_mode):
                with open(fd, "rb", closefd=False) as source, open(destination, "xb") as target:
                    while chunk := source.read(1 << 20):
                        self.budget -= len(chunk)
                        if self.budget < 0:
                            raise Refused("it is larger than CourseDirectory.max_dir_size")
                        target.write(chunk)
            else:
                raise Refused(f"{shown} is neither a file nor a folder")
        finally:
            os.close(fd)


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class SubmitWithoutCheckpoints(ExchangeSubmit):
    """nbgrader's submit, its size limit (CourseDirectory.max_dir_size, 100 MB) applied to what it copies.
    nbgrader's own check adds up everything in the assignment's folder, Jupyter's .ipynb_checkpoints included,
    though the copy leaves them out (CourseDirectory.ignore): a student with many saved versions could not submit."""

    def get_size(self, root):
        ignored = ignore_patterns(exclude=self.coursedir.ignore, include=self.coursedir.include,
                                  max_file_size=self.coursedir.max_file_size)
        total = 0
        for folder, subfolders, files in os.walk(root):
            skip = set(ignored(folder, subfolders + files))
            subfolders[:] = [name for name in subfolders if name not in skip]
            paths = [os.path.join(folder, name) for name in files if name not in skip]
            total += sum(os.path.getsize(path) for path in paths if not os.path.islink(path))
        return total


class LatePenalty(LateSubmissionPlugin):
    """A late notebook loses `per_day` of its score for each day, begun, after the due date (all of it at most).
    nbgrader's AssignLatePenalties records it; nbgrader export shows it (late_submission_penalty, and a score
    net of it)."""

    per_day = Float(0.1, help="The fraction of a notebook's score lost per day late, each day begun").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.per_day * days)
