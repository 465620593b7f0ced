"""Friendly self-checks for the visible test cells: each failure says what was expected and what was got."""
import inspect
import os
import sys
import threading
from contextlib import contextmanager

import torch


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

    Notebooks: 0.1, I.1, II.1, II.3, II.4"""
    is_tensor(got, name)
    if tuple(got.shape) != tuple(expected):
        raise CheckFailed(f"{name}: expected shape {tuple(expected)}, got shape {tuple(got.shape)}")


def close(got, expected, name="your answer", atol=1e-5, rtol=1e-4):
    """`got` must match the tensor `expected` in shape and, within tolerance, in every entry.

    Notebooks: 0.1, I.1, I.2, I.3, I.4, II.1, II.2, II.3, II.4, II.5"""
    shape(got, expected.shape, name)
    got, expected = got.detach().double(), expected.detach().double()
    if not torch.allclose(got, expected, atol=atol, rtol=rtol):
        worst = (got - expected).abs().argmax()
        index = tuple(int(i) for i in torch.unravel_index(worst, got.shape))
        raise CheckFailed(f"{name}: values differ. At index {index} expected {expected[index].item():.6g}, "
                          f"got {got[index].item():.6g} (largest of the differences; tolerance {atol:g})")


def equal(got, expected, name="your answer"):
    """`got` must equal `expected` (with ==).

    Notebooks: 0.1, I.1, I.2, I.3, I.4, I.5, II.1, II.2"""
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
_UNWATCH = (sys.setprofile, sys.settrace, threading.setprofile, threading.settrace)


def _name(function):
    return f"{getattr(function, '__module__', None) or '?'}.{getattr(function, '__qualname__', repr(function))}"


def _code(function):
    """The code object that runs when `function` is called (a class: its forward), or None for a builtin."""
    function = getattr(function, "forward", function) if isinstance(function, type) else function
    function = inspect.unwrap(getattr(function, "__func__", function))
    return getattr(function, "__code__", None)


@contextmanager
def own_work(*answers, forbidden):
    """Fail the block if one of `answers` (the student's functions) runs any of `forbidden` while it runs.

    The watch is a profile hook, so it sees the forbidden code whatever name it was reached by: called by its
    module path, through an alias imported earlier, imported inside the answer, or through another module
    that re-exports it. Calls made by the block itself, outside the answers (say to compute the expected
    value with the same reference), are allowed.

    Notebooks: 0.1, I.2, I.4, I.5, II.1, II.2, II.3, II.4, II.5
    """
    codes = {_code(f): _name(f) for f in forbidden if _code(f) is not None}
    builtins = {id(f): _name(f) for f in forbidden if _code(f) is None}
    builtins.update({id(f): "a function that switches the check off" for f in _UNWATCH})
    for answer in answers:
        if not inspect.isfunction(answer):
            raise CheckFailed(f"expected your answer to be a function written with def, got {_describe(answer)}")
        if answer.__code__ in codes:
            raise Delegated(f"{answer.__name__} is {codes[answer.__code__]} itself: write it yourself instead.")
    watched = {answer.__code__: answer.__name__ for answer in answers}
    inside, seen = [], []  # the answers running now (innermost last); (answer, what it called)

    def hook(frame, event, arg):
        if event == "call":
            if frame.f_code in watched:
                inside.append(frame.f_code)
            elif inside and frame.f_code in codes:
                seen.append((watched[inside[-1]], codes[frame.f_code]))
        elif event == "return" and inside and frame.f_code is inside[-1]:
            inside.pop()
        elif event == "c_call" and inside and id(arg) in builtins:
            seen.append((watched[inside[-1]], builtins[id(arg)]))

    previous = sys.getprofile()
    sys.setprofile(hook)
    try:
        yield
    finally:
        switched_off = sys.getprofile() is not hook
        sys.setprofile(previous)
    if switched_off:
        raise Delegated("your answer switched the check's watch off (sys.setprofile): no points for that.")
    if seen:
        answer, called = seen[0]
        raise Delegated(f"{answer} calls {called}, which does the whole exercise: write it from building blocks.")


@contextmanager
def replaced(namespace, **functions):
    """Run the block with `functions` in place of the names in `namespace` (a notebook's globals()).

    A later exercise is checked with the course's answers to the earlier ones, so that a mistake in an
    earlier exercise costs only its own points.

    Notebooks: 0.1, I.4, I.5, II.4
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
