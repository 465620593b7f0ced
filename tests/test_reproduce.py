import argparse
import json
import types

import pytest

from attnlab import reproduce


def test_seeds_are_parsed_and_bad_ones_refused():
    assert reproduce.parse_seeds("0,1, 2") == [0, 1, 2]
    assert reproduce.parse_seeds("0-9") == list(range(10)) and reproduce.parse_seeds("0-2,7") == [0, 1, 2, 7]
    for bad in ("", "a,b", "-1", "1,,x", "3-x"):
        with pytest.raises(argparse.ArgumentTypeError, match="comma-separated list of non-negative integers"):
            reproduce.parse_seeds(bad)


def test_main_runs_the_study_and_writes_its_json(tmp_path, monkeypatch, capsys):
    calls = []
    fake = types.SimpleNamespace(reproduce=lambda seeds, out_dir: calls.append((seeds, out_dir)) or {"kind": "depth"})
    monkeypatch.setattr(reproduce.importlib, "import_module", lambda name: fake)
    out = tmp_path / "results" / "depth.json"
    reproduce.main(["depth", "--seeds", "3,4", "--out", str(out)])
    assert calls == [([3, 4], out.parent)]
    assert json.loads(out.read_text()) == {"kind": "depth"}
    assert "wrote" in capsys.readouterr().out


def test_unknown_study_is_refused(capsys):
    with pytest.raises(SystemExit, match="2"):
        reproduce.main(["sorting"])
    assert "invalid choice" in capsys.readouterr().err
