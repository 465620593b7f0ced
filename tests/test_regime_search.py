"""The search for paper B's head pattern (benchmarks/regime_search.py): its criterion, its rows, and its record."""
import importlib.util
import json
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("regime_search", ROOT / "benchmarks" / "regime_search.py")
search = importlib.util.module_from_spec(spec)
spec.loader.exec_module(search)


def rows(regime, seed, full, pattern, reverse, ci_low):
    risks = [{"regime": regime, "seed": seed, "heads_per_layer": list(a), "risk": r, "seconds": 1.0}
             for a, r in ((search.FULL, full), (search.PATTERN, pattern), (search.REVERSE, reverse))]
    return risks + [{"regime": regime, "seed": seed, "paired": "reverse minus pattern", "mean_diff": 0.0,
                     "ci": [ci_low, ci_low + 1]}]


def test_the_criterion_is_paper_b_s_pattern_and_nothing_weaker(tmp_path):
    """(H,1,1) within 10% of (H,H,H) and (1,H,H) at least 30% above it: both halves are needed."""
    path = tmp_path / "rows.jsonl"
    lines = (rows("holds", 0, 1.0, 1.05, 1.4, 0.1) + rows("holds", 1, 1.0, 1.2, 1.4, 0.1)  # (H,1,1) too costly
             + rows("holds", 2, 1.0, 1.0, 1.2, -0.1))  # (1,H,H) too cheap
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    table = search.summary(path)
    assert "| holds | 0,1,2 | 1.05 (1.00-1.20) | 1.40 (1.20-1.40) | 2/3 | 0/3 | 1/3 | 1 |" in table
    assert search.verdict(path) == ("Paper B's criterion held in 1 of the 3 (regime, seed) pairs tried, in 1 regimes. "
                                    "On the same prompts, in every seed of the regime: paper B's order, none; the "
                                    "reverse, none; neither in every seed, holds.")


def test_a_seed_gives_three_models_on_the_same_prompts_and_their_paired_difference(tmp_path, monkeypatch):
    monkeypatch.setitem(search.REGIMES, "tiny", ({"n": 2}, {}, {}, {"steps": 3, "eval_every": 3}))
    path = tmp_path / "rows.jsonl"
    search.run("tiny", [0], path)
    search.run("tiny", [0], path)  # a seed already in the file is not trained again
    got = search.load(path)
    assert [r.get("heads_per_layer") for r in got] == [list(search.FULL), list(search.PATTERN), list(search.REVERSE),
                                                       None]
    assert got[-1]["ci"][0] <= got[-1]["mean_diff"] <= got[-1]["ci"][1]
    with pytest.raises(ValueError, match="regime must be one of"):
        search.run("no such regime", [0], path)


def words(text):
    return " ".join(text.split())


def test_the_record_ii_3_and_the_readme_show_what_the_committed_rows_say():
    notebook = json.loads((ROOT / "solutions" / "part2_heads" / "03_which_heads_matter.ipynb").read_text())
    ii_3 = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    for text in ((ROOT / "results" / "regime_search.md").read_text(), ii_3):
        assert search.summary() in text
        assert words(search.verdict()) in words(text)
    assert words(search.verdict()) in words((ROOT / "README.md").read_text())


def ten_seed_sentence():
    """What II.3, the record and the README say of separate x and y tokens on the ten seeds 0-9, from the rows."""
    risk = {(r["seed"], tuple(r["heads_per_layer"])): r["risk"] for r in search.load()
            if r["regime"] == "separate_d4n8_softmax_mlp" and "paired" not in r}
    paired = {r["seed"]: r["ci"] for r in search.load() if r["regime"] == "separate_d4n8_softmax_mlp" and "paired" in r}
    pattern = [risk[(s, search.PATTERN)] / risk[(s, search.FULL)] for s in range(10)]
    reverse = [risk[(s, search.REVERSE)] / risk[(s, search.FULL)] for s in range(10)]
    holds = sum(p <= search.ENOUGH and r >= search.NEEDED for p, r in zip(pattern, reverse))
    return (f"on the ten seeds 0-9, one head in each later layer cost {round((statistics.median(pattern) - 1) * 100)}% "
            f"(median; within 10% of the full model in {sum(p <= search.ENOUGH for p in pattern)} of 10), and one head "
            f"in layer 1 from {min(reverse):.2f}x to {max(reverse):.2f}x the full model's risk: at least 30% more in "
            f"{sum(r >= search.NEEDED for r in reverse)} seeds, less than the full model in {sum(r < 1 for r in reverse)}. "
            f"Paper B's criterion held in {holds} of the ten, and on the same prompts the order was paper B's in "
            f"{sum(paired[s][0] > 0 for s in range(10))} and the reverse in {sum(paired[s][1] < 0 for s in range(10))}")


def test_the_reading_of_the_search_is_what_its_rows_show():
    """The sentences II.3 and the record say of the table, each checked against the committed rows."""
    regimes = search.by_regime()
    linear = [r for name, r in regimes.items() if "softmax" not in name and name != "default"]
    # "With linear attention, more examples per prompt or a larger d bring the two cuts close together (each
    # within about 20% of the full model in every seed but one)"
    assert sum(ratio > 1.25 for r in linear for ratio in r["pattern"] + r["reverse"]) == 1
    # "On thirteen seeds d8n16 is one: one head in each later layer costs about 2% (median), one head in layer 1
    # about 3%, never 30%; on the same prompts the order is paper B's in 9 of 13 seeds and the reverse in 2."
    d8 = regimes["d8n16"]
    assert d8["seeds"] == list(range(13)) and not any(d8["holds"])
    assert round(statistics.median(d8["pattern"]) - 1, 2) == 0.02
    assert round(statistics.median(d8["reverse"]) - 1, 2) == 0.03
    assert sum(ratio <= 1.1 for ratio in d8["pattern"]) == 12 and max(d8["reverse"]) < 1.3
    assert (sum(d8["paired"]), sum(d8["reversed"])) == (9, 2)
    # "at d = 8, (H, 1, 1) costs more than (1, H, H) in every seed, on the same prompts"
    assert all(regimes["d8n16_softmax_mlp"]["reversed"])
    joint = {name: r for name, r in regimes.items() if not name.startswith("separate")}
    # "With softmax attention and MLPs on this notebook's tokens, one head in layer 1 cost nothing (the (1, H, H)
    # column below 1)"
    assert all(ratio < 1 for name, r in joint.items() if "softmax" in name for ratio in r["reverse"])
    # "With joint tokens no regime came near the pattern: (1, H, H) never cost 30% more than the full model"
    assert all(ratio < 1.3 for r in joint.values() for ratio in r["reverse"])
    # "With separate x and y tokens ... seeds 10-13 first, where the criterion held in 2 of 4 and the order was paper
    # B's in 3 of 4: a lead. Then on the ten seeds 0-9, ..." (the sentence ten_seed_sentence writes from the rows)
    separate = regimes["separate_d4n8_softmax_mlp"]
    first = [i for i, seed in enumerate(separate["seeds"]) if seed >= 10]
    assert (sum(separate["holds"][i] for i in first), sum(separate["paired"][i] for i in first), len(first)) == (2, 3, 4)
    ten = [i for i, seed in enumerate(separate["seeds"]) if seed < 10]
    assert len(ten) == 10 and sum(separate["holds"][i] for i in ten) < 10  # "the criterion does not hold on ten seeds"
    notebook = json.loads((ROOT / "solutions" / "part2_heads" / "03_which_heads_matter.ipynb").read_text())
    ii_3 = words("\n".join("".join(cell["source"]) for cell in notebook["cells"]))
    assert words("each within about 20% of the full model in every seed but one") in ii_3
    assert words("On thirteen seeds `d8n16` is one: one head in each later layer costs about 2% (median), one head in "
                 "layer 1 about 3%, never 30%; on the same prompts the order is paper B's in 9 of 13 seeds and the "
                 "reverse in 2.") in ii_3
    assert words("with more examples per prompt, one head in each later layer costs much less") in ii_3  # vs 1.5x
    sentence = words(ten_seed_sentence())
    assert sentence in ii_3 and sentence in words((ROOT / "results" / "regime_search.md").read_text())
    assert sentence in words((ROOT / "README.md").read_text())
    assert words("With softmax attention and MLPs on this notebook's tokens, one head in layer 1 cost nothing (the "
                 "(1, H, H) column below 1), "
                 "and at $d = 8$, (H, 1, 1) costs more than (1, H, H) in every seed, on the same prompts") in ii_3
