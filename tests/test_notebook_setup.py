"""Every notebook opens the same way: title and badges, then a set-up cell that works on Colab and elsewhere."""
import nbformat
import pytest

from attnlab import links
from course import RELEASE, ROOT, SOLUTIONS, notebooks

ALL = notebooks(SOLUTIONS) + notebooks(RELEASE)


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_badges_and_setup_come_from_links(path):
    cells = nbformat.read(path, 4).cells
    released_as = f"course/{path.relative_to(SOLUTIONS if SOLUTIONS in path.parents else RELEASE)}"
    first, second = cells[0], cells[1]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "the first cell starts with a title"
    assert links.badges(released_as) in first.source, f"badges of {path.name} disagree with attnlab.links"
    assert second.cell_type == "code" and second.source == links.SETUP_CELL, "the second cell is the set-up cell"


def test_colab_setup_installs_the_library_and_not_torch():
    assert "attnlab @ git+https://github.com/" + links.REPOSITORY in links.SETUP_CELL
    assert "torch" not in links.INSTALL
    assert '"google.colab" in sys.modules' in links.SETUP_CELL


def test_links_rewrites_a_forks_badges_and_setup_cell():
    """`python -m attnlab.links` puts links.py's URL into every notebook (a fork changes REPOSITORY, runs it)."""
    path = SOLUTIONS / "part0_foundations" / "01_attention_from_scratch.ipynb"
    released_as = "course/part0_foundations/01_attention_from_scratch.ipynb"
    notebook = nbformat.read(path, 4)
    title = notebook.cells[0].source
    notebook.cells[0].source = title.replace(links.REPOSITORY, "someone/old-fork")
    notebook.cells[1].source = '%pip install "attnlab @ git+https://github.com/someone/old-fork@main"'
    assert links.set_notebook_heads(notebook, released_as)
    assert notebook.cells[0].source == title and notebook.cells[1].source == links.SETUP_CELL
    assert not links.set_notebook_heads(notebook, released_as), "a notebook that agrees is left as it is"
    notebook.cells[0].source = "# A title without badges"
    with pytest.raises(ValueError, match="one line of badges"):
        links.set_notebook_heads(notebook, released_as)


def test_the_readme_s_laptop_set_up_clones_the_repository_links_names():
    readme = (ROOT / "README.md").read_text()
    commands = readme.split("## Set-up and run")[1].split("```bash\n")[1].split("```")[0]
    steps = [line.split("#")[0].strip() for line in commands.splitlines()]
    name = links.REPOSITORY.split("/")[1]
    assert steps == [f"git clone https://github.com/{links.REPOSITORY}", f"cd {name}", "python3 -m venv .venv",
                     "source .venv/bin/activate", "pip install -r requirements.txt", "jupyter lab course/"]
