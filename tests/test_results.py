"""The README's Part II table is the committed ten-seed reproduction's, and that reproduction is this code's."""
import json
from pathlib import Path

import pytest

from attnlab import heads, results

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "results" / "heads_seeds0-9.json"


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
    depth = tmp_path / "depth.json"
    depth.write_text(json.dumps({"kind": "depth", "results": []}))
    for path, message in [(depth, "is not a heads reproduction"), (tmp_path / "missing.json", "cannot read")]:
        with pytest.raises(SystemExit, match="2"):
            results.main([str(path)])
        assert message in capsys.readouterr().err
