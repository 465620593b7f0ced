"""What the notebooks cite and where they send a student next: the papers, further reading, capstone projects."""
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
PAPERS = {"part1_depth": "arXiv 2404.01601", "part2_heads": "arXiv 2408.04532"}  # paper A, paper B


def markdown(path):
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]


def section(path, title):
    """The text of the markdown section `## title` in a notebook ('' if it has none)."""
    for text in markdown(path):
        match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
        if match:
            return match.group(1)
    return ""


@pytest.mark.parametrize("path", sorted(p for part in PAPERS for p in (SOLUTIONS / part).glob("*.ipynb")),
                         ids=lambda p: p.name)
def test_every_notebook_of_a_part_cites_its_paper_in_its_first_cell(path):
    assert PAPERS[path.parent.name] in markdown(path)[0]


@pytest.mark.parametrize("part", ["part0_foundations", "part1_depth", "part2_heads"])
def test_each_part_ends_with_further_reading(part):
    last = sorted((SOLUTIONS / part).glob("*.ipynb"))[-1]
    entries = [" ".join(entry.split()) for entry in re.split(r"^- ", section(last, "Further reading"), flags=re.M)[1:]]
    assert len(entries) >= 2, f"{last.name} has no further reading"
    for entry in entries:  # authors, a title in italics, a year and a link
        assert re.search(r"\*[^*]+\*", entry) and re.search(r"(19|20)\d\d", entry), entry
        assert re.search(r"\]\(https://(arxiv\.org/abs/\d{4}\.\d{5}|doi\.org/|transformer-circuits\.pub/)", entry), entry


def test_the_course_ends_with_capstone_projects_that_start_from_the_library():
    last = sorted(SOLUTIONS.glob("*/*.ipynb"))[-1]
    projects = re.findall(r"^\d+\. (.*?)(?=^\d+\. |\Z)", section(last, "Capstone projects"), flags=re.M | re.S)
    assert len(projects) >= 4
    for project in projects:
        names = re.findall(r"`(\w+)\.(\w+)", project)
        assert names, f"no starting point in the library: {project[:60]}"
        for module, name in names:  # every starting point a project names exists
            assert hasattr(importlib.import_module(f"attnlab.{module}"), name), f"{module}.{name}"


COMMAND = re.compile(r"python -m |python benchmarks/|`results/")


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*/*.ipynb")), ids=lambda p: p.name)
def test_commands_and_result_files_stay_in_a_run_it_yourself_box(path):
    """Teaching prose reads without bookkeeping: a command or a results file sits in a quoted box headed
    **Run it yourself.**, under the text it backs. Capstone projects, which a student starts from the repository,
    may name them."""
    for text in markdown(path):
        if text.startswith("## Capstone projects"):
            continue
        for paragraph in text.split("\n\n"):
            if COMMAND.search(paragraph):
                assert paragraph.startswith("> **Run it yourself.**"), f"{path.name}: {paragraph[:160]!r}"
