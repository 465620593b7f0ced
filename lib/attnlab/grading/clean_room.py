"""What the clean room runs: a submission's notebook with each answer reduced to what an honest answer needs.

The normal pass runs a submission as handed in, so each test runs in the kernel that the student's answer cells have
just run in, and an answer cell can change what the test runs with: patch the checker, rebind the library functions
a test computes its expectation with, register IPython hooks or input transformers that rewrite or silence later
cells, serve a patched module through sys.modules. The clean room (preprocessors.CleanRoom) runs a second, fresh
kernel on the notebook that `build` makes: the release's own cells as they are (nbgrader has restored them from the
gradebook) and, for each answer cell or cell the student added, only the statements `Filter` keeps: imports,
function and class definitions, assignments to names, and the loops, conditions and `with` blocks around them.
Statements are judged one by one, from their syntax tree, never by running them.

An honest answer loses nothing: what it computes for the tests (`most_attended = ...`, `predictions, targets = ...`,
a dict filled in a loop) stays. A function body is kept as written, since it runs only when a test calls it, and an
honest one changes its arguments (a model's weights) as a trick would: what it does then is the review list's
business (attnlab.grading.review), not the clean room's.
"""
import ast
import builtins
import copy
import importlib.machinery
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .review import ATTRIBUTES, expression_flag, module_flag, python_source

# Cell magics that run the cell's code as usual, only timing or capturing it: the clean room runs the code without.
PLAIN_CELL_MAGICS = ("%%time", "%%capture")
# The blocks of a statement (a loop's, an if's, a with's, a try's, a class's): each of their statements is judged
# like a top-level one. A function's body is not: it is kept as written, and runs only when called.
BLOCKS = ("body", "orelse", "finalbody")
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# An answer may fill in a dict, list or set it built itself (results = {} and a loop): these build one...
CONTAINER_DISPLAYS = (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)
CONTAINER_TYPES = {"dict", "list", "set"}
# ...and these methods change one in place: allowed on the answer's own containers, never on another object
# (check._UNWATCH.clear(), a library's registry.update(...)). Not `add`, which is out of place on a tensor.
IN_PLACE = {"append", "extend", "insert", "update", "setdefault", "pop", "popitem", "remove", "discard", "clear"}
# Names an answer may not rebind besides the release's own: the builtins (rebinding `isinstance` or `print` changes
# every test), and dunder names (`__builtins__ = ...` swaps the builtins of every later cell; see `protected`).
BUILTIN_NAMES = set(dir(builtins))
# Why each kind of statement that is never kept is left out. (A raise or an assert is judged like an assignment:
# it stops the cell as in the normal pass, say an untouched stub's raise NotImplementedError().)
NEVER_KEPT = {
    ast.Delete: "a del can take away what the tests use",
    ast.Global: "global only matters in a function",
    ast.Match: "a match statement (the clean room keeps only plain definitions)",
}


@dataclass
class LeftOut:
    """A statement of the student's code that the clean room does not run, and why."""
    cell: str  # the cell's grade_id, or "cell N" for a cell nbgrader does not track
    line: int
    code: str
    why: str

    def __str__(self):
        return f"{self.cell}, line {self.line}: `{self.code}` ({self.why})"


@dataclass
class CleanNotebook:
    notebook: nbformat.NotebookNode
    left_out: list = field(default_factory=list)


def nbgrader_meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_student_code(cell):
    """An answer cell, or a code cell that nbgrader neither locks nor grades (one the student added)."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and (meta.get("solution", False) or not (meta.get("locked") or meta.get("grade")))


def cell_name(cell, index):
    return nbgrader_meta(cell).get("grade_id") or f"cell {index}"


def parse(source):
    """The Python a cell runs (IPython's magics turned into the calls they make) and its syntax tree; the tree is None
    when it does not parse (the cell then raised in the normal pass, and defines nothing)."""
    first, _, rest = source.partition("\n")
    if first.split(" ")[0].strip() in PLAIN_CELL_MAGICS:
        source = rest
    try:
        python = python_source(source)
        return python, ast.parse(python)
    except (SyntaxError, ValueError):
        return "", None


def evaluated_now(statement):
    """The nodes of `statement` that run when it runs: its header and expressions, not the statements of its blocks
    (each judged on its own) nor the bodies of the functions and classes it defines."""
    stack = [statement]
    while stack:
        node = stack.pop()
        yield node
        for name, value in ast.iter_fields(node):
            if name in BLOCKS and isinstance(value, list):
                continue
            stack.extend(child for child in (value if isinstance(value, list) else [value])
                         if isinstance(child, ast.AST))


def names_bound(statement):
    """The names `statement` binds in the scope it runs in (not in its blocks: see `statements`)."""
    names = set()
    if isinstance(statement, DEFINITIONS):
        names.add(statement.name)
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        names.update((alias.asname or alias.name).split(".")[0] for alias in statement.names)
    nodes = list(evaluated_now(statement))
    # A comprehension's own variables live in the comprehension, not in the notebook.
    local = {id(name) for node in nodes if isinstance(node, ast.comprehension) for name in ast.walk(node.target)}
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and id(node) not in local:
            names.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def statements(body):
    """Every statement of a block, those of its nested blocks included, but not those inside definitions."""
    for statement in body:
        yield statement
        if not isinstance(statement, DEFINITIONS):
            for block in (*(getattr(statement, name, []) for name in BLOCKS),
                          *(handler.body for handler in getattr(statement, "handlers", []))):
                yield from statements(block)


def release_names(nb):
    """Names that the release's code cells (setup and tests) bind and that one of them reads before binding it
    itself: check, F, answers, torch, the setup's model. An answer that rebinds one changes what the tests run with;
    a name that each release cell binds before reading it (a loop's variable) is the answer's to use as well."""
    bound, read = set(), set()
    for cell in nb.cells:
        _, tree = parse(cell.source) if cell.cell_type == "code" and not is_student_code(cell) else ("", None)
        if tree is None:
            continue
        first_bound = {}
        for statement in statements(tree.body):
            for name in names_bound(statement):
                first_bound.setdefault(name, statement.lineno)
        bound |= set(first_bound)
        comprehensions = own_variables(tree)
        read |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
                 and node.lineno <= first_bound.get(node.id, node.lineno) and id(node) not in comprehensions}
    return bound & read


def own_variables(tree):
    """The ids of the Name nodes in `tree` that read a comprehension's own variable (`method` in
    `{method: f(method) for method in methods}`): a comprehension reads nothing of the notebook's by that name."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            variables = {name.id for generator in node.generators for name in ast.walk(generator.target)
                         if isinstance(name, ast.Name)}
            found |= {id(name) for name in ast.walk(node) if isinstance(name, ast.Name) and name.id in variables}
    return found


def protected(name, release):
    """Whether an answer may not rebind `name` at the notebook's level; `release`: the release's names."""
    return name in release or name in BUILTIN_NAMES or (name.startswith("__") and name.endswith("__"))


def trick(node):
    """Why an expression node only serves a trick, or None: what the review list flags as reaching the grading
    (IPython's hooks, sys.modules, globals(), exec, setattr, ...), also a dunder named in a string
    (getattr(x, "__dict__"))."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__"):
        flag = ATTRIBUTES.get(node.value)
    else:
        flag = expression_flag(node)
    return flag and f"it reaches the grading: {flag}"


def changed_object(node):
    """The expression whose object `node` changes in place (`x` in x.a = ..., x[k] = ..., x.append), or None."""
    assigned = isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, ast.Store)
    return node.value if assigned or isinstance(node, ast.Attribute) and node.attr in IN_PLACE else None


def is_container(expression, containers):
    return isinstance(expression, ast.Name) and expression.id in containers


def harmless_expression(value, containers):
    """An expression statement worth keeping: a docstring or a name, a print, or filling in an answer's container."""
    if isinstance(value, (ast.Constant, ast.Name)):
        return True
    if not isinstance(value, ast.Call):
        return False
    function = value.func
    if isinstance(function, ast.Name):
        return function.id in ("print", "display")
    return isinstance(function, ast.Attribute) and function.attr in IN_PLACE | {"add"} \
        and is_container(function.value, containers)


def builds_container(statement):
    """The name a statement binds to a new dict, list or set (`best = {}`, `found = list()`), or None."""
    if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)):
        return None
    value = statement.value
    made = isinstance(value, CONTAINER_DISPLAYS) or (
        isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in CONTAINER_TYPES)
    return statement.targets[0].id if made else None


class Filter:
    """Judges the student's statements one by one, in the order they run. `release`: the names the release's code
    binds; `containers`: the names of the dicts, lists and sets the student's code built itself."""

    def __init__(self, release):
        self.release, self.containers, self.left_out = release, set(), []

    def rebinds(self, names, in_class):
        # A class body's names are the class's (its __eq__, its fields), not the notebook's.
        return [] if in_class else sorted(name for name in names if protected(name, self.release))

    def why_left_out(self, statement, in_class):
        """Why the clean room leaves `statement` out, or None to keep it (its blocks are judged separately)."""
        if isinstance(statement, (ast.Pass, ast.Break, ast.Continue)):
            return None
        if type(statement) in NEVER_KEPT:
            return NEVER_KEPT[type(statement)]
        for node in evaluated_now(statement):
            if trick(node):
                return trick(node)
        rebound = self.rebinds(names_bound(statement), in_class)
        if rebound:
            return f"it rebinds {', '.join(rebound)}, which the release's code or Python defines"
        for node in evaluated_now(statement):
            # Module attributes (check.close, F.scaled_dot_product_attention), sys.modules[...], a class's methods,
            # a library object's fields: all outlive the answer. An answer only fills in containers it built.
            changed = changed_object(node)
            if changed is not None and not is_container(changed, self.containers):
                return "it changes an object that the answer did not build"
        if isinstance(statement, ast.Expr) and not harmless_expression(statement.value, self.containers):
            # A call on its own runs for its side effects (a hook registered, a module patched): the tests read
            # names, and an answer binds what the tests read.
            return "a statement run for its side effects"
        return None

    def import_aliases(self, statement, in_class):
        """The aliases of an import the clean room keeps, each with why the others are left out: not a name the
        release binds (`from attnlab import check` would swap the checker), not a module only a trick needs
        (importlib, unittest.mock, IPython: see review.MODULES), not `*`, which can bind anything."""
        kept, dropped = [], []
        for alias in statement.names:
            module = alias.name if isinstance(statement, ast.Import) else statement.module
            # `import torch` or `import attnlab.baselines` binds the installed package itself, the one the release
            # imported under that name: harmless. An alias or a from-import may bind anything to a release's name.
            plain = isinstance(statement, ast.Import) and not alias.asname
            rebound = [] if plain else self.rebinds([(alias.asname or alias.name).split(".")[0]], in_class)
            why = ("it imports *, which can rebind anything" if alias.name == "*" else
                   f"it reaches the grading: {module_flag(module)}" if module_flag(module) else
                   f"it rebinds {rebound[0]}, which the release's code or Python defines" if rebound else None)
            if why:
                dropped.append(why)
            else:
                kept.append(alias)
        return kept, dropped

    def block(self, body, cell, python, in_class=False):
        """The statements of `body` that the clean room runs, each block within them filtered the same way."""
        kept = []
        for statement in body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                statement.names, whys = self.import_aliases(statement, in_class)
                keep = bool(statement.names)
            else:
                why = self.why_left_out(statement, in_class)
                whys, keep = [why] if why else [], why is None
            for why in whys:
                self.leave_out(cell, statement, python, why)
            if not keep:
                continue
            if not in_class:
                self.containers -= names_bound(statement)
                self.containers |= {builds_container(statement)} - {None}
            before = len(self.left_out)
            if not isinstance(statement, FUNCTIONS):
                self.filter_blocks(statement, cell, python, in_class or isinstance(statement, ast.ClassDef))
            if isinstance(statement, ast.While) and len(self.left_out) > before:
                # What was left out may have been what ends the loop (queue.pop(), a counter's object).
                self.leave_out(cell, statement, python, "a while loop that lost statements might never end")
                continue
            kept.append(statement)
        return kept

    def filter_blocks(self, statement, cell, python, in_class):
        for name in BLOCKS:
            if getattr(statement, name, None):
                setattr(statement, name, self.block(getattr(statement, name), cell, python, in_class) or [ast.Pass()])
        for handler in getattr(statement, "handlers", []):
            handler.body = self.block(handler.body, cell, python, in_class) or [ast.Pass()]

    def leave_out(self, cell, statement, python, why):
        lines = (ast.get_source_segment(python, statement) or "").splitlines() or [""]
        self.left_out.append(LeftOut(cell, statement.lineno, lines[0].strip() + " ..." * (len(lines) > 1), why))

    def cell(self, source, name):
        """The clean room's source for one of the student's cells, named `name`."""
        python, tree = parse(source)
        return ast.unparse(ast.Module(body=self.block(tree.body, name, python), type_ignores=[])) if tree else ""


def build(nb):
    """The clean room's notebook for the notebook `nb`, and what it left out of the student's code (`nb` is not
    changed)."""
    room = nbformat.from_dict(copy.deepcopy(nb))
    judge = Filter(release_names(nb))
    for index, cell in enumerate(room.cells):
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if is_student_code(cell):
                cell.source = judge.cell(cell.source, cell_name(cell, index))
    return CleanNotebook(room, judge.left_out)


def importable_beside(folder):
    """Files beside the notebook that Python could import (a student's torch.py or attnlab/ package): the clean room
    runs in an empty folder, and must run when the normal pass could import them."""
    suffixes = tuple(importlib.machinery.all_suffixes())
    return [path.name for path in Path(folder).iterdir() if path.is_dir() or path.name.endswith(suffixes)]
