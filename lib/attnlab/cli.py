"""Argument types for the course's command lines (argparse `type=`), so that every entry point refuses a bad
argument, an output path it cannot write above all, before minutes of work rather than after them."""
import argparse
import tempfile
from pathlib import Path


def output_file(text):
    """A file path that can be written: not a folder, in a folder that exists or can be made, and writable
    (checked by writing and removing a scratch file there). The folder is made if it is missing."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder: give a file path, e.g. {path / 'results.json'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write {path}: {error.strerror or error}") from None
    return path


def _integer(text, minimum):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"need an integer of at least {minimum}, got {text!r}")
    return value


def positive_int(text):
    """An integer >= 1 (rounds, steps, seeds to run)."""
    return _integer(text, 1)


def positive_float(text):
    """A number > 0 (a time cap in seconds)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"need a number above 0, got {text!r}")
    return value


def existing_notebook(text):
    """The path of an existing .ipynb file."""
    path = Path(text)
    if path.suffix != ".ipynb" or not path.is_file():
        raise argparse.ArgumentTypeError(f"{path} is not an existing .ipynb notebook")
    return path
