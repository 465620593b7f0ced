"""The course's own steps in nbgrader's autograding, named in nbgrader_config.py (c.Autograde.autograde_preprocessors),
so that `nbgrader autograde`, `python -m attnlab.grading` and a hub's formgrader all grade the same way:

- `SandboxedExecute` runs the notebook as nbgrader's Execute does, but in a sandbox (attnlab.grading.sandbox);
- `CleanRoom` runs the tests again in a fresh kernel, with only the answers' definitions (attnlab.grading.clean_room);
- `SaveAutoGrades` scores as nbgrader's, except that a test cell that raised scores 0, and a test scores no more
  than it did in the clean room.
"""
import tempfile

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from nbgrader.preprocessors import SaveAutoGrades as NbgraderSaveAutoGrades
from nbgrader.utils import determine_grade, is_grade, is_solution
from traitlets import Bool

from . import clean_room, sandbox

_said = set()  # what this process has warned about, to say it once
LISTED = 5  # left-out statements named in a reason; the review list and the log have them all


class SandboxedExecute(Execute):
    """nbgrader's Execute, its kernels started in the sandbox. Where the machine cannot sandbox (no bwrap, no user
    namespaces), it says so once and runs kernels as nbgrader does, with the grader's rights; or, with
    `require_sandbox` (a hub, where the grader's rights reach every student's work), refuses to grade at all."""

    require_sandbox = Bool(False, config=True, help="Refuse to grade where student code cannot run in the sandbox, "
                                                    "instead of warning and running it with the grader's rights")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        why = sandbox.problem()
        if why is None:
            self.kernel_manager_class = sandbox.SandboxKernelManager
        elif self.require_sandbox:
            raise RuntimeError(f"grading refused: student code cannot run in the sandbox here ({why}), and "
                               "SandboxedExecute.require_sandbox is set. Install bubblewrap and allow user namespaces "
                               "(see the README's instructor guide), or grade on a machine that has them.")
        elif why not in _said:
            _said.add(why)
            self.log.warning("Student code runs WITHOUT a sandbox, with the grader's rights: %s", why)


def raised(cell):
    """Whether the cell's code raised (nbgrader's Execute records every failed execution as an error output)."""
    return any(output.output_type == "error" for output in cell.get("outputs", []))


def is_test(cell):
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def score(cell):
    """A test cell's score from its outputs: nbgrader's, but 0 if it raised."""
    return 0.0 if raised(cell) else determine_grade(cell)[0]


def clean_room_score_of(cell):
    """A test cell's score in the clean room: as `score`, but text on stderr (a warning that the normal pass showed
    in an earlier cell, say) costs nothing; the normal pass has scored it already."""
    return score(NotebookNode(cell, outputs=[o for o in cell.outputs if o.get("name") != "stderr"]))


def clean_room_score(cell):
    """The score the clean room gave a test cell where it was lower than the normal pass's, else None."""
    return cell.metadata.get("attnlab", {}).get("clean_room", {}).get("score")


class CleanRoomFailed(RuntimeError):
    """The clean room's kernel died or hung: the student is not graded, as when the normal pass's kernel does (an
    answer that kills its kernel only where its tricks were left out must not keep the normal pass's scores)."""


class CleanRoom(SandboxedExecute):
    """After the normal pass, the tests again, in a fresh kernel (in the same sandbox, in an empty folder) that ran
    the release's cells and only what clean_room.build keeps of the student's code. A test that scores lower there
    keeps the clean room's score (SaveAutoGrades), with the reason in its metadata (attnlab.clean_room), in an
    output the student sees and in the review list. Where nothing was left out and nothing importable lies beside
    the notebook, the clean room would run the very code the normal pass ran, in a kernel just as fresh: it is
    skipped. A kernel that dies or hangs here fails this student's grading, as in the normal pass, and no one
    else's."""

    def preprocess(self, nb, resources):
        for cell in nb.cells:  # the submission's own metadata never speaks for the clean room
            cell.metadata.pop("attnlab", None)
        room = clean_room.build(nb)
        folder = resources.get("metadata", {}).get("path") or "."
        beside = clean_room.importable_beside(folder)
        if not room.left_out and not beside:
            return nb, resources
        for left_out in room.left_out:
            self.log.info("Clean room leaves out %s", left_out)
        with tempfile.TemporaryDirectory(prefix="attnlab-clean-room-") as empty:
            try:
                executed, _ = super().preprocess(room.notebook, {"metadata": {"path": empty}})
            except Exception as error:  # nbgrader reports this student not graded, and goes on with the next
                raise CleanRoomFailed(f"the clean room's kernel failed ({type(error).__name__}: {error}); what it "
                                      f"left out: {'; '.join(map(str, room.left_out)) or 'nothing'}") from error
        for cell, clean in zip(nb.cells, executed.cells):
            if is_test(cell) and clean_room_score_of(clean) < score(cell):
                self.record(cell, clean, room.left_out, beside)
        return nb, resources

    def record(self, cell, clean, left_out, beside):
        """Keep the clean room's lower score of test `cell`, and say why, for the grader and the student."""
        lower = clean_room_score_of(clean)
        reason = f"scored {lower:g} of {cell.metadata.nbgrader['points']:g} in the clean room, where {failure(clean)}"
        if left_out:
            more = f"; and {len(left_out) - LISTED} more" if len(left_out) > LISTED else ""
            reason += f". Left out of the student's code: {'; '.join(map(str, left_out[:LISTED]))}{more}"
        if beside:
            reason += f". Beside the notebook, importable: {', '.join(beside)}"
        cell.metadata.setdefault("attnlab", {})["clean_room"] = {"score": lower, "reason": reason}
        self.log.warning("Test %s %s", cell.metadata.nbgrader["grade_id"], reason)
        cell.outputs.append(new_output("stream", name="stderr", text=(
            f"Clean room: this test {reason}.\nThe clean room is a fresh kernel that runs the notebook's own cells "
            "and, of your answers, only imports, definitions and assignments to names; a test scores the lower of "
            "the two runs.\n")))


def failure(cell):
    """What went wrong in a test cell: its error's first line, if it raised."""
    error = next((output for output in cell.outputs if output.output_type == "error"), None)
    if error is None:
        return "its result scored lower"
    return f"it raised {error.ename}" + (f": {error.evalue.splitlines()[0][:200]}" if error.evalue else "")


class SaveAutoGrades(NbgraderSaveAutoGrades):
    """nbgrader's, except that a test cell that raised scores 0, and none scores more than in the clean room.
    nbgrader reads a cell's outputs in order and takes the first result it finds: a result that is not a number
    (say one an answer's hook displays at the start of every cell) would earn full points even with the test's
    error after it."""

    def _add_score(self, cell, resources):
        super()._add_score(cell, resources)
        if not is_test(cell):
            return
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id, self.assignment_id,
                                          self.student_id)
        caps = [0.0 if raised(cell) else None, clean_room_score(cell)]
        lowest = min([grade.auto_score, *(cap for cap in caps if cap is not None)])
        if lowest != grade.auto_score:
            grade.auto_score = lowest
            self.gradebook.db.commit()
