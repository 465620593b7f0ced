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
