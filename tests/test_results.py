"""The README's Part II table is the committed ten-seed reproduction's, and that reproduction is this code's."""
import json
import re
import statistics
from pathlib import Path

import pytest

from attnlab import depth, heads, results

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "results" / "heads_seeds0-9.json"
DEPTH = ROOT / "results" / "depth_seeds0-9.json"


@pytest.fixture(scope="module")
def committed():
    return json.loads(COMMITTED.read_text())


def test_the_readme_shows_the_committed_results(committed):
    assert sorted({row["seed"] for row in committed["risk"]}) == list(range(10))
    assert results.claims_table(committed) in (ROOT / "README.md").read_text()


def test_the_committed_baselines_are_what_this_code_computes(committed):
    """The baselines need no training, so one seed's tuned curves are recomputed here and must match the file's
    (a changed baseline, such as a Lasso solver, must come with regenerated results and README)."""
    task = heads.make_task()
    fresh = heads.baseline_curves(task, seed=3, methods=("ridge", "lasso"))
    for method, curve in fresh.items():
        stored = [row["risk"] for row in committed["risk"] if row["method"] == method and row["seed"] == 3]
        assert stored == pytest.approx(curve, rel=1e-6), method


def test_main_prints_the_table_and_refuses_other_files(committed, tmp_path, capsys):
    results.main([str(COMMITTED)])
    assert capsys.readouterr().out.strip() == results.claims_table(committed)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "sorting", "results": []}))
    for path, message in [(other, "is not a depth or heads reproduction"), (tmp_path / "missing.json", "cannot read")]:
        with pytest.raises(SystemExit, match="2"):
            results.main([str(path)])
        assert message in capsys.readouterr().err


def test_the_readme_shows_part_one_s_ten_seed_table(capsys):
    committed = json.loads(DEPTH.read_text())["results"]
    assert sorted({row["seed"] for row in committed}) == list(range(10))
    assert {(row["task"], row["depth"]) for row in committed} == {(t, d) for t in depth.TASK_NAMES for d in depth.DEPTHS}
    table = depth.format_table(committed)
    assert table in (ROOT / "README.md").read_text()
    results.main([str(DEPTH)])
    assert capsys.readouterr().out.strip() == table


@pytest.mark.parametrize("notebook, task", [("01_memorization", "memorization"), ("02_reasoning", "icqa"),
                                            ("03_generalization", "template"),
                                            ("04_contextual_generalization", "in_context_template"),
                                            ("05_depth_explorer", None)])
def test_part_one_s_notebooks_show_the_committed_ten_seed_results(notebook, task):
    """I.1-I.4 each show their task's row of the README's table, I.5 the whole table."""
    committed = json.loads(DEPTH.read_text())["results"]
    cells = json.loads((ROOT / "solutions" / "part1_depth" / f"{notebook}.ipynb").read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert depth.format_table(committed, tasks=None if task is None else [task]) in text


ROWS_COMMAND = re.compile(r"python -m attnlab\.results results/heads_seeds0-9\.json\s+--rows ([\w:,]+)")


def texts_quoting_rows():
    """(where, text) of each Part II notebook cell and of the README: the places that quote `--rows` tables."""
    for path in sorted((ROOT / "solutions" / "part2_heads").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            yield path.name, "".join(cell["source"])
    yield "README.md", (ROOT / "README.md").read_text()


def test_the_texts_quote_the_tables_their_commands_print(capsys):
    """Every ten-seed table of Part II's notebooks and the README is what the command it names prints for the
    committed file."""
    quoted = []
    for where, text in texts_quoting_rows():
        for rows in ROWS_COMMAND.findall(text):
            results.main([str(COMMITTED), "--rows", rows])
            assert capsys.readouterr().out.strip() in text, (where, rows)
            quoted.append(where)
    assert len(set(quoted)) >= 5  # II.2, II.3, II.4, II.5 and the README


def test_rows_are_the_seeds_median_lowest_and_highest(committed):
    ridge = [sum(row["risk"] for row in committed["risk"] if row["method"] == "ridge" and row["seed"] == seed
                 and 1 <= row["n"] <= 4) / 4 for seed in range(10)]
    line = results.rows_table(committed, ["risk:ridge"]).splitlines()[-1]
    expected = [results.number(v) for v in (statistics.median(ridge), min(ridge), max(ridge))]
    assert line.split(" | ")[1:4] == expected
    claim = results.rows_table(committed, ["later_layers_concentrated"]).splitlines()[-1]
    assert claim.endswith("| 0 / 10 |")  # the claim that does not hold at this scale, in no seed
    with pytest.raises(ValueError, match="unknown rows \\['risk:median'\\]: choose from"):
        results.rows_table(committed, ["risk:median"])


def test_rows_are_refused_for_part_one_and_for_unknown_names(capsys):
    for path, rows, message in [(DEPTH, "risk:linear", "--rows is for a heads reproduction only"),
                                (COMMITTED, "risk:median", "unknown rows")]:
        with pytest.raises(SystemExit, match="2"):
            results.main([str(path), "--rows", rows])
        assert message in capsys.readouterr().err
