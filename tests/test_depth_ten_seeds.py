"""The full check of Part I: every task at every depth on seeds 0-9, from scratch, and every bar of
`depth.BARS` and `depth.GAPS` on every seed. It takes over an hour on one core, so it runs only when asked:

    ATTNLAB_TEN_SEEDS=1 pytest tests/test_depth_ten_seeds.py

CI checks the committed run instead (tests/test_results.py), and tests/test_depth_study.py the zoo's models."""
import os

import pytest

from attnlab import depth


@pytest.mark.skipif(os.environ.get("ATTNLAB_TEN_SEEDS") != "1",
                    reason="over an hour: run with ATTNLAB_TEN_SEEDS=1 (same as python -m attnlab.reproduce depth --seeds 0-9)")
def test_every_bar_holds_on_ten_seeds(tmp_path):
    results = depth.reproduce(list(range(10)), tmp_path)["results"]
    assert depth.misses(results) == []
