"""Every command line refuses a bad argument, above all an output path it cannot write, before any work."""
import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from attnlab import cli, reproduce
from attnlab.zoo import __main__ as zoo_main

ROOT = Path(__file__).resolve().parent.parent


def unwritable_paths(tmp_path):
    """A folder, and a file under a plain file (its 'folder' can be neither made nor written)."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    return {"a folder": (tmp_path, "is a folder"), "under a file": (blocker / "out.json", "cannot write"),
            # a folder that exists and takes no new file, even for root (the writability check, not mkdir, refuses it)
            "in a read-only folder": (Path("/sys/results.json"), "cannot write")}


def test_output_file_accepts_a_new_file_in_a_new_folder(tmp_path):
    path = cli.output_file(str(tmp_path / "new" / "results.json"))
    assert path.parent.is_dir() and not path.exists()
    assert list(path.parent.iterdir()) == []  # the scratch file is gone


@pytest.mark.parametrize("kind", ["a folder", "under a file", "in a read-only folder"])
def test_output_file_refuses_what_cannot_be_written(tmp_path, kind):
    path, message = unwritable_paths(tmp_path)[kind]
    if not path.parent.exists() and kind == "in a read-only folder":
        pytest.skip("no /sys here")
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        cli.output_file(str(path))


def test_numbers_and_notebooks_are_checked(tmp_path):
    assert cli.positive_int("3") == 3 and cli.positive_float("0.5") == 0.5
    for bad in ("0", "-2", "x", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError, match="integer of at least 1"):
            cli.positive_int(bad)
    for bad in ("0", "-1", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="number above 0"):
            cli.positive_float(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="not an existing .ipynb notebook"):
        cli.existing_notebook(str(tmp_path / "missing.ipynb"))


@pytest.mark.parametrize("kind", ["a folder", "under a file"])
def test_reproduce_refuses_a_bad_out_before_it_trains(tmp_path, monkeypatch, capsys, kind):
    path, message = unwritable_paths(tmp_path)[kind]
    monkeypatch.setattr(reproduce.importlib, "import_module", lambda name: pytest.fail("the study was started"))
    with pytest.raises(SystemExit, match="2"):  # argparse's usage error
        reproduce.main(["heads", "--out", str(path)])
    assert message in capsys.readouterr().err


def test_zoo_rebuild_refuses_an_unknown_name_before_it_trains(monkeypatch, capsys):
    from attnlab import depth
    monkeypatch.setattr(depth, "build_zoo_model", lambda **kwargs: pytest.fail("a model was trained"))
    with pytest.raises(SystemExit, match="2"):
        zoo_main.main(["rebuild", "--only", "depth/icqa_1", "depth/nope"])
    assert "no zoo recipe named depth/nope" in capsys.readouterr().err


@pytest.mark.parametrize("script, args, message", [
    ("bench.py", ["--rounds", "0"], "integer of at least 1"),
    ("bench.py", ["--cap-part1", "-5"], "number above 0"),
    ("bench.py", ["--json", "{folder}"], "is a folder"),
    ("notebook_budget.py", ["{folder}/missing.ipynb"], "not an existing .ipynb notebook"),
    ("notebook_budget.py", ["--json", "{folder}"], "is a folder"),
    ("grading_time.py", ["--against", "no-such-revision"], "is not a git revision"),
])
def test_benchmarks_refuse_bad_arguments_at_once(tmp_path, script, args, message):
    args = [a.format(folder=tmp_path) for a in args]
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr  # argparse's usage error, before any measurement
    assert message in done.stderr
