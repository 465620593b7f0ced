"""The course's random streams: one named place, and no two kinds of draw share a seed."""
import pytest
import torch

from attnlab import seeds


def test_every_stream_is_its_own_for_the_first_ten_thousand_seeds():
    # Seeds 0..9999 of all streams, and the training seeds themselves (offset 0), never collide.
    offsets = sorted([0, *seeds.OFFSETS.values()])
    assert all(b - a >= 10_000 for a, b in zip(offsets, offsets[1:])), offsets
    drawn = {seeds.stream_seed(s, purpose) for purpose in seeds.OFFSETS for s in range(10_000)}
    assert len(drawn) == 10_000 * len(seeds.OFFSETS) and drawn.isdisjoint(range(10_000))


def test_fresh_starts_have_seeds_of_their_own():
    # Attempt 0 is the run itself; later attempts of seeds 0..9999 (up to 20 each) collide with nothing.
    assert seeds.restart_seed(7, 0) == 7
    later = {seeds.restart_seed(s, a) for s in range(10_000) for a in range(1, 21)}
    others = {seeds.stream_seed(s, p) for p in seeds.OFFSETS if p != "restarts" for s in range(10_000)}
    assert len(later) == 20 * 10_000 and later.isdisjoint(others | set(range(10_000)))


def test_a_generator_follows_its_stream_seed():
    a, b = seeds.generator(3, "measure"), torch.Generator().manual_seed(seeds.stream_seed(3, "measure"))
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))


def test_an_unknown_stream_is_refused():
    with pytest.raises(ValueError, match="purpose must be one of .*got 'training'"):
        seeds.stream_seed(0, "training")
