"""Friendly self-checks for the visible test cells: each failure says what was expected and what was got."""
import torch


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
    is_tensor(got, name)
    if tuple(got.shape) != tuple(expected):
        raise CheckFailed(f"{name}: expected shape {tuple(expected)}, got shape {tuple(got.shape)}")


def close(got, expected, name="your answer", atol=1e-5, rtol=1e-4):
    """`got` must match the tensor `expected` in shape and, within tolerance, in every entry."""
    shape(got, expected.shape, name)
    got, expected = got.detach().double(), expected.detach().double()
    if not torch.allclose(got, expected, atol=atol, rtol=rtol):
        worst = (got - expected).abs().argmax()
        index = tuple(int(i) for i in torch.unravel_index(worst, got.shape))
        raise CheckFailed(f"{name}: values differ. At index {index} expected {expected[index].item():.6g}, "
                          f"got {got[index].item():.6g} (largest of the differences; tolerance {atol:g})")


def equal(got, expected, name="your answer"):
    if got != expected:
        raise CheckFailed(f"{name}: expected {expected!r}, got {got!r}")


def at_least(got, threshold, name="your answer"):
    if not got >= threshold:
        raise CheckFailed(f"{name}: expected at least {threshold:g}, got {got:g}")


def passed(what):
    print(f"✓ {what}")
