"""The pinned installs agree with pyproject.toml: requirements.txt pins a student's set (the library's dependencies
and JupyterLab), requirements-dev.txt pins every extra on top of it (what CI installs), and Binder gets the student's
set with the CPU build of torch."""
import re

import pytest

from course import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later


def pins(name):
    """{package: version} of a requirements file's `package==version` lines."""
    lines = (line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines())
    return dict(line.lower().split("==") for line in lines if "==" in line)


def package(requirement):
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def test_every_dependency_and_extra_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    student, everything = pins("requirements.txt"), pins("requirements.txt") | pins("requirements-dev.txt")
    assert {package(r) for r in project["dependencies"]} | {"jupyterlab", "ipykernel"} == set(student)
    for extra, requirements in project["optional-dependencies"].items():
        assert {package(r) for r in requirements} - {"attnlab"} <= set(everything), extra
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    assert student["torch"] == "2.13.0", "a looser pin pulls PyPI's CUDA build on Linux"


def test_binder_gets_the_students_set_with_cpu_torch():
    binder, student = pins("binder/requirements.txt"), pins("requirements.txt")
    assert binder.pop("torch") == student.pop("torch") + "+cpu"
    assert binder == student
