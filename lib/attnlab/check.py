"""Friendly self-checks for the visible test cells: each failure says what was expected and what was got."""
import _thread
import dis
import gc
import inspect
import os
import sys
import threading
import traceback
from contextlib import contextmanager

import torch

try:
    import _posixsubprocess  # how subprocess starts a process on POSIX
except ImportError:  # Windows
    _posixsubprocess = None


def autograding():
    """True under nbgrader's autograding ($NBGRADER_EXECUTION is set): the course then loads the zoo's models
    instead of training live, so that grading stays fast, and explorers draw plain figures (widgets.no_front_end)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


class CheckFailed(AssertionError):
    """An AssertionError whose message is written for a student."""


def _describe(value):
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"


def is_tensor(got, name="your answer"):
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{name}: expected a torch.Tensor, got {_describe(got)}")


def shape(got, expected, name="your answer"):
    """`got` must be a torch.Tensor of shape `expected`.

    Notebooks: 0.1, II.1, II.3, II.4"""
    is_tensor(got, name)
    if tuple(got.shape) != tuple(expected):
        raise CheckFailed(f"{name}: expected shape {tuple(expected)}, got shape {tuple(got.shape)}")


def close(got, expected, name="your answer", atol=1e-5, rtol=1e-4):
    """`got` must match the tensor `expected` in shape and, within tolerance, in every entry.

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.1, II.2, II.3, II.4, II.5"""
    shape(got, expected.shape, name)
    got, expected = got.detach().double(), expected.detach().double()
    if not torch.allclose(got, expected, atol=atol, rtol=rtol):
        worst = (got - expected).abs().argmax()
        index = tuple(int(i) for i in torch.unravel_index(worst, got.shape))
        raise CheckFailed(f"{name}: values differ. At index {index} expected {expected[index].item():.6g}, "
                          f"got {got[index].item():.6g} (largest of the differences; tolerance {atol:g})")


def equal(got, expected, name="your answer"):
    """`got` must equal `expected` (with ==).

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.2"""
    if got != expected:
        raise CheckFailed(f"{name}: expected {expected!r}, got {got!r}")


def at_least(got, threshold, name="your answer"):
    """`got` must be at least `threshold`.

    Notebooks: I.2, II.4"""
    if not got >= threshold:
        raise CheckFailed(f"{name}: expected at least {threshold:g}, got {got:g}")


def passed(what):
    """Print a check mark and what passed: the last line of a test cell that passed.

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.1, II.2, II.3, II.4, II.5"""
    print(f"✓ {what}")


class Delegated(CheckFailed):
    """The answer called a function that does the whole exercise, or turned the watch off."""


# Calls that would switch off the watch in `own_work`: an answer that makes them is treated as delegating.
# (The garbage collector's lists reach the watch's own state.)
_UNWATCH = (sys.setprofile, sys.settrace, threading.setprofile, threading.settrace, gc.get_objects, gc.get_referrers,
            gc.get_referents)
# Calls that start work where the watch cannot follow (it sees one thread's calls): another thread or process.
_ELSEWHERE = tuple(f for f in (_thread.start_new_thread, getattr(_posixsubprocess, "fork_exec", None),
                               *(getattr(os, name, None) for name in ("system", "fork", "forkpty", "posix_spawn",
                                                                      "posix_spawnp", "execv", "execve")))
                   if f is not None)
# The processes again, as audit events (sys.addaudithook): a hook nobody can remove, which sees them started by any
# route, C code included. (Not ctypes: honest imports load C libraries through it.)
_ELSEWHERE_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.forkpty",
                     "os.spawn")
# Torch's lower-level operators that do the same job as a forbidden torch function, under other names
# (torch.ops.aten.scaled_dot_product_attention, torch._native_multi_head_attention, ...): by the forbidden
# function's name, what their names contain.
_LOWER_LEVEL = {"scaled_dot_product_attention": "scaled_dot_product",
                "multi_head_attention_forward": "multi_head_attention", "MultiheadAttention": "multi_head_attention"}
# Where a call of torch.ops.<namespace>.<operator> runs, in Python: `self` is the operator.
_OPERATOR_CALLS = {torch._ops.OpOverloadPacket.__call__.__code__, torch._ops.OpOverload.__call__.__code__}
# Code of at least this many bytecode instructions, identical to a forbidden function's, is a copy of it. Shorter code
# (a few lines, such as most of the course's own answers) an honest student may well write the same way.
_MIN_COPY = 60


def _name(function):
    return f"{getattr(function, '__module__', None) or '?'}.{getattr(function, '__qualname__', repr(function))}"


def _code(function):
    """The code object that runs when `function` is called (a class: its forward), or None for a builtin."""
    function = getattr(function, "forward", function) if isinstance(function, type) else function
    function = inspect.unwrap(getattr(function, "__func__", function))
    return getattr(function, "__code__", None)


def _fingerprint(code):
    """What a copy of `code` keeps whatever its name, file, line numbers, docstring and local names, compiled again
    anywhere: its arguments' count, the global and attribute names it uses (in order), its other constants (nested
    functions by their fingerprints) and its size. Not the bytecode itself, which varies with how it was compiled."""
    consts = tuple(_fingerprint(c) if inspect.iscode(c) else c for c in code.co_consts if not isinstance(c, str))
    return code.co_argcount, code.co_names, repr(consts), _size(code)


def _size(code):
    """The number of bytecode instructions."""
    return sum(1 for _ in dis.get_instructions(code))


def _install_audit_hook():
    """Add this module's audit hook (once per import) and return the list of watches it reads: own_work pushes its
    (inside, seen) while its block runs, and an event of _ELSEWHERE_EVENTS while an answer runs is recorded in seen
    and refused."""
    watches = []  # [(inside, seen)] of each own_work block running now

    def hook(event, args):
        if watches and watches[-1][0] and event.startswith(_ELSEWHERE_EVENTS):
            inside, seen = watches[-1]
            seen.append((inside[-1].co_name, f"{event} (another process)"))
            raise RuntimeError(f"the check refuses {event} inside an answer: the watch cannot follow a process")

    sys.addaudithook(hook)
    return watches


_WATCHES = _install_audit_hook()


def _cell_threads(answers):
    """Threads other than this one running code written where the answers were: IPython compiles each cell to a file
    of its own, all in one folder per kernel, so any cell of the notebook (a student may add cells)."""
    def where(filename):  # ipykernel: /tmp/ipykernel_<pid>/<hash>.py; a terminal's IPython: <ipython-input-...>
        return "<ipython-input>" if filename.startswith("<ipython-input-") else os.path.dirname(filename) or filename

    places = {where(answer.__code__.co_filename) for answer in answers}
    here = threading.get_ident()
    return [ident for ident, frame in sys._current_frames().items() if ident != here
            and any(where(f.f_code.co_filename) in places for f, _ in traceback.walk_stack(frame))]


@contextmanager
def own_work(*answers, forbidden):
    """Fail the block if one of `answers` (the student's functions) runs any of `forbidden` while it runs.

    The watch is a profile hook, so it sees the forbidden code whatever name it was reached by: called by its
    module path, through an alias imported earlier, imported inside the answer, through another module that
    re-exports it, copied out of the library under another name (the same compiled code), or, for a torch
    function, as one of torch's lower-level operators doing the same job (_LOWER_LEVEL). Calls made by the block
    itself, outside the answers (say to compute the expected value with the same reference), are allowed. The
    hook sees one thread: an answer may not start a thread or a process, or run while a thread of the notebook's
    own code is running.

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.1, II.2, II.3, II.4, II.5
    """
    codes = {_code(f): _name(f) for f in forbidden if _code(f) is not None}
    copies = {_fingerprint(code): name for code, name in codes.items() if _size(code) >= _MIN_COPY}
    builtins = {id(f): _name(f) for f in forbidden if _code(f) is None}
    builtins.update({id(f): "a function that switches the check off" for f in _UNWATCH})
    builtins.update({id(f): f"{_name(f)} (another thread or process)" for f in _ELSEWHERE})
    stems = {_LOWER_LEVEL[f.__name__] for f in forbidden if getattr(f, "__name__", None) in _LOWER_LEVEL}
    for answer in answers:
        if not inspect.isfunction(answer):
            raise CheckFailed(f"expected your answer to be a function written with def, got {_describe(answer)}")
        if answer.__code__ in codes or copies.get(_fingerprint(answer.__code__)):
            reference = codes.get(answer.__code__) or copies[_fingerprint(answer.__code__)]
            raise Delegated(f"{answer.__name__} is {reference} itself: write it yourself instead.")
    if _cell_threads(answers):
        raise Delegated("a thread started by your notebook's code is running: answers may not use threads.")
    watched = {answer.__code__: answer.__name__ for answer in answers}
    inside, seen = [], []  # the answers running now (innermost last); (answer, what it called)
    known = {}  # code -> the forbidden function it is (or a copy of), or None

    def forbidden_code(code):
        if code not in known:
            known[code] = codes.get(code) or (copies and _size(code) >= _MIN_COPY and copies.get(_fingerprint(code)))
        return known[code]

    def lower_level(function):
        name = getattr(function, "__name__", "")
        return stems and any(stem in name for stem in stems) and f"torch's operator {name}"

    def hook(frame, event, arg):
        if event == "call":
            if frame.f_code in watched:
                inside.append(frame.f_code)
            elif inside:
                called = forbidden_code(frame.f_code) or (
                    frame.f_code in _OPERATOR_CALLS and lower_level(frame.f_locals.get("self")))
                if called:
                    seen.append((watched[inside[-1]], called))
        elif event == "return" and inside and frame.f_code is inside[-1]:
            inside.pop()
        elif event == "c_call" and inside:
            called = builtins.get(id(arg)) or lower_level(arg)
            if called:
                seen.append((watched[inside[-1]], called))

    def delegated():
        answer, called = seen[0]
        return Delegated(f"{answer} calls {called}, which does the whole exercise: write it from building blocks.")

    previous, entry = sys.getprofile(), (inside, seen)
    _WATCHES.append(entry)
    sys.setprofile(hook)
    try:
        yield
    except Exception as error:
        if seen:  # the audit hook refused what the answer tried, and the answer failed on it
            raise delegated() from error
        raise
    finally:
        switched_off = sys.getprofile() is not hook
        sys.setprofile(previous)
        del _WATCHES[next(i for i, w in enumerate(_WATCHES) if w is entry)]
    if switched_off:
        raise Delegated("your answer switched the check's watch off (sys.setprofile): no points for that.")
    if seen:
        raise delegated()


@contextmanager
def replaced(namespace, **functions):
    """Run the block with `functions` in place of the names in `namespace` (a notebook's globals()).

    A later exercise is checked with the course's answers to the earlier ones, so that a mistake in an
    earlier exercise costs only its own points.

    Notebooks: 0.1, I.1, I.5, II.4
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in functions}
    namespace.update(functions)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
