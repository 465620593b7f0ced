"""A review list: what in each submission a human should look at, found by reading the student's code, not running it.

    python -m attnlab.grading.review part0_foundations [more assignments] [--to review.csv]

The student's code is every code cell of a submitted notebook that is not as released, except the test cells,
which nbgrader replaces with the gradebook's: answer cells, and any cell a student added or stripped of its nbgrader
metadata (that code runs too). Each is parsed (IPython's magics and shell escapes turned into the calls they make)
and every construct that can reach the grading rather than the exercise is flagged: the import system, IPython's
hooks, sys and gc tricks, process control, threads and processes, rebinding builtins or a module's functions, files,
network, code run from text. A flag never changes a score: most flagged code is innocent, and a person decides.
One flag reports a score already changed: a test that scored lower in the clean room than in the normal pass
(attnlab.grading.clean_room), with the reason the autograded notebook recorded.
The CSV has one row per flag (student, assignment, notebook, cell, line, flag, code).
"""
import argparse
import ast
import builtins
import csv
import sys
from dataclasses import dataclass

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

from .submissions import Course

# module -> flag, for an import of it (or of anything under it)
MODULES = {
    "importlib": "the import system", "imp": "the import system", "runpy": "the import system",
    "pkgutil": "the import system", "zipimport": "the import system",
    "IPython": "IPython's internals", "ipykernel": "IPython's internals", "traitlets": "IPython's internals",
    "gc": "sys and gc tricks", "inspect": "sys and gc tricks", "ctypes": "sys and gc tricks",
    "signal": "process control", "atexit": "process control", "faulthandler": "process control",
    "threading": "threads and processes", "_thread": "threads and processes",
    "multiprocessing": "threads and processes", "subprocess": "threads and processes",
    "concurrent": "threads and processes", "pty": "threads and processes", "asyncio": "threads and processes",
    "builtins": "rebinding builtins",
    "unittest": "rebinding a module's functions", "mock": "rebinding a module's functions",  # mock.patch
    "socket": "network", "urllib": "network", "http": "network", "requests": "network", "ftplib": "network",
    "smtplib": "network", "sqlite3": "files", "shutil": "files", "tempfile": "files", "pickle": "files",
}
# attribute name -> flag, wherever it is read (get_ipython().events, sys.modules, os._exit, ...)
ATTRIBUTES = {
    **dict.fromkeys(("events", "input_transformers_cleanup", "input_transformers_post", "ast_transformers",
                     "input_transformer_manager", "set_custom_exc", "showtraceback", "displayhook", "display_pub",
                     "run_cell", "run_line_magic", "run_cell_magic", "register_magic_function", "user_ns"),
                    "IPython's hooks"),
    **dict.fromkeys(("modules", "settrace", "setprofile", "_getframe", "addaudithook", "meta_path", "path_hooks",
                     "get_referrers", "get_referents", "get_objects", "cell_contents", "currentframe", "f_back", "f_globals",
                     "f_locals", "f_builtins", "__code__", "__globals__", "__closure__", "__builtins__",
                     "__subclasses__", "__dict__", "__setattr__", "__delattr__", "__class__"), "sys and gc tricks"),
    **dict.fromkeys(("_exit", "kill", "killpg", "abort", "exit", "fork", "setpgid", "setsid"), "process control"),
    **dict.fromkeys(("system", "popen", "execv", "execve", "execvp", "spawnv", "posix_spawn", "Thread", "Process"),
                    "threads and processes"),
}
NAMES = {"__import__": "the import system", "get_ipython": "IPython's hooks", "exec": "code run from text",
         "eval": "code run from text", "compile": "code run from text", "exit": "process control",
         "quit": "process control", "open": "files", "globals": "sys and gc tricks", "vars": "sys and gc tricks",
         "locals": "sys and gc tricks",
         "setattr": "rebinding a module's functions", "delattr": "rebinding a module's functions",
         "__builtins__": "rebinding builtins"}
BUILTINS = {name for name in vars(builtins) if not name.startswith("_")}
CLEAN_ROOM = "scored lower in the clean room"


@dataclass
class Flag:
    cell: str  # the cell's grade_id, or its index for a cell nbgrader does not track
    line: int
    flag: str
    code: str


def python_source(cell_source):
    """The Python a cell runs: IPython's %magics and !shell escapes become get_ipython() calls."""
    return TransformerManager().transform_cell(cell_source)


def imported_names(tree):
    """Names bound by imports: rebinding an attribute of one of them patches a module for everyone."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def module_flag(module):
    """The flag for importing `module` (or anything under it), or None."""
    return MODULES.get((module or "").split(".")[0])


def expression_flag(node):
    """The flag for one node of an expression: an attribute or a name that reaches the grading, or None."""
    if isinstance(node, ast.Attribute):
        return ATTRIBUTES.get(node.attr)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return NAMES.get(node.id)
    return None


def scan_code(source, modules):
    """(line, flag, code) for what the cell `source` does that a human should look at; `modules`: the notebook's
    imported names."""
    python = python_source(source)
    try:
        tree = ast.parse(python)
    except SyntaxError as error:
        return [(error.lineno or 0, "does not parse", (error.text or "").strip())]
    lines, found = python.splitlines(), []

    def add(node, flag):
        found.append((node.lineno, flag, lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if module_flag(alias.name):
                    add(node, module_flag(alias.name))
        elif isinstance(node, ast.ImportFrom) and module_flag(node.module):
            add(node, module_flag(node.module))
        elif expression_flag(node):
            add(node, expression_flag(node))
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            for target in getattr(node, "targets", None) or [node.target]:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and root_name(part) in modules:
                        add(node, "rebinding a module's functions")
                    elif isinstance(part, ast.Name) and part.id in BUILTINS and isinstance(part.ctx, ast.Store):
                        add(node, "rebinding builtins")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in BUILTINS:
            add(node, "rebinding builtins")
    return sorted(set(found))


def scan_notebook(nb, release, test_ids):
    """Flags for the student's code in notebook `nb`, given the released notebook and the grade_ids of its tests."""
    released = {cell.source for cell in release.cells}
    student = [(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index}", cell.source)
               for index, cell in enumerate(nb.cells) if cell.cell_type == "code" and cell.source not in released]
    student = [(name, source) for name, source in student if name not in test_ids]
    modules = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                modules |= imported_names(ast.parse(python_source(cell.source)))
            except SyntaxError:
                pass
    return [Flag(name, *found) for name, source in student for found in scan_code(source, modules)]


def review(course, assignments):
    """Rows (student, assignment, notebook, cell, line, flag, code) for every submission of `assignments`."""
    rows = []
    for assignment in assignments:
        for notebook in course.notebooks(assignment):
            release = nbformat.read(course.path("release", ".", assignment) / f"{notebook}.ipynb", 4)
            source = nbformat.read(course.path("source", ".", assignment) / f"{notebook}.ipynb", 4)
            tests = {c.metadata["nbgrader"]["grade_id"] for c in source.cells if c.get("metadata", {}).get(
                "nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}
            for student in course.students(assignment):
                path = course.path("submitted", student, assignment) / f"{notebook}.ipynb"
                try:
                    nb = nbformat.read(path, 4)
                except Exception:  # missing or not a notebook: grading reports it
                    continue
                rows += [(student, assignment, notebook, f.cell, f.line, f.flag, f.code)
                         for f in scan_notebook(nb, release, tests)]
                graded = course.path("autograded", student, assignment) / f"{notebook}.ipynb"
                rows += [(student, assignment, notebook, *row) for row in clean_room_flags(graded)]
    return rows


def clean_room_flags(path):
    """(cell, line, flag, reason) for each test of the autograded notebook at `path` that scored lower in the clean
    room (none when it was not graded)."""
    if not path.is_file():
        return []
    return [(cell.metadata.nbgrader["grade_id"], 0, CLEAN_ROOM, cell.metadata.attnlab.clean_room.reason)
            for cell in nbformat.read(path, 4).cells if "clean_room" in cell.get("metadata", {}).get("attnlab", {})]


def write_csv(rows, path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["student", "assignment", "notebook", "cell", "line", "flag", "code"])
        writer.writerows(rows)


def report(rows, path):
    """A few lines: each flagged submission and its kinds of flag."""
    if not rows:
        return "Review: nothing flagged in the students' code."
    by_submission = {}
    for student, assignment, notebook, _, _, flag, _ in rows:
        by_submission.setdefault((student, assignment), set()).add(flag)
    lines = [f"Review: {len(by_submission)} submissions have code a person should look at (flags never change "
             f"scores, except that '{CLEAN_ROOM}' reports a lowered one; every line in {path}):"]
    lines += [f"  {student} / {assignment}: {', '.join(sorted(flags))}"
              for (student, assignment), flags in sorted(by_submission.items())]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m attnlab.grading.review", description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="+", metavar="ASSIGNMENT")
    parser.add_argument("--to", default="review.csv", help="the CSV to write (default: %(default)s)")
    parser.add_argument("--course", default=".", help="the course root, where nbgrader_config.py is (default: here)")
    args = parser.parse_args(argv)
    rows = review(Course(args.course), args.assignments)
    write_csv(rows, args.to)
    print(report(rows, args.to))


if __name__ == "__main__":
    sys.exit(main())
