import json

import pytest
import torch

from attnlab import zoo


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "ZOO_DIR", tmp_path)
    monkeypatch.setattr(zoo, "MANIFEST", tmp_path / "manifest.json")
    monkeypatch.setattr(zoo, "STUDIES", {"tiny": "tiny_study"})
    zoo.rebuild(progress=False)
    return tmp_path


def test_rebuild_writes_a_manifest_that_load_trusts(tiny_zoo):
    info = json.loads((tiny_zoo / "manifest.json").read_text())["tiny/first_token"]
    assert info["study"] == "tiny" and info["seed"] == 0 and info["steps"] == 30
    assert info["sha256"] == zoo.sha256(tiny_zoo / info["file"]) and len(info["sha256"]) == 64
    assert info["config"]["vocab_size"] == 8 and 0 <= info["metrics"]["accuracy"] <= 1
    model, metadata = zoo.load("tiny/first_token")
    assert metadata["history"]["step"] == [10, 20, 30]
    assert model(torch.zeros(1, 4, dtype=torch.long)).shape == (1, 4, 8)


def test_a_changed_file_is_refused_with_the_rebuild_command(tiny_zoo):
    path = tiny_zoo / "tiny/first_token.pt"
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(zoo.ZooError, match="python -m attnlab.zoo rebuild --only tiny/first_token"):
        zoo.load("tiny/first_token")
    path.unlink()
    with pytest.raises(zoo.ZooError, match="missing"):
        zoo.load("tiny/first_token")


def test_a_file_is_read_and_hashed_once_and_every_load_is_a_new_model(tiny_zoo, monkeypatch):
    first, _ = zoo.load("tiny/first_token")
    monkeypatch.setattr(zoo.hashlib, "sha256", lambda data: pytest.fail("hashed again"))
    with torch.no_grad():
        first.unembed.weight.zero_()  # a caller changes its model...
    second, metadata = zoo.load("tiny/first_token")
    assert second is not first and second.unembed.weight.abs().sum() > 0  # ...and the next load is untouched
    metadata["seed"] = 99
    assert zoo.load("tiny/first_token")[1]["seed"] == 0


def test_a_file_changed_after_a_load_is_refused(tiny_zoo):
    zoo.load("tiny/first_token")
    path = tiny_zoo / "tiny/first_token.pt"
    path.write_bytes(path.read_bytes()[:-1] + b"x")  # the same size: only the content and the time change
    with pytest.raises(zoo.ZooError, match="does not match its sha256"):
        zoo.load("tiny/first_token")


def test_unknown_names_say_what_exists(tiny_zoo):
    with pytest.raises(ValueError, match="the zoo has: tiny/first_token"):
        zoo.load("nope")
    with pytest.raises(ValueError, match="no zoo recipe named nope"):
        zoo.rebuild(only=["nope"], progress=False)
    with pytest.raises(ValueError, match="study must be one of"):
        zoo.rebuild(study="nope")


def test_remeasure_measures_afresh_and_keeps_the_weights_and_the_training(tiny_zoo):
    before_model, before = zoo.load("tiny/first_token")
    before_entry = zoo.entry("tiny/first_token")
    assert zoo.remeasure("tiny") == ["tiny/first_token"]
    model, metadata = zoo.load("tiny/first_token")  # the manifest's new sha256 matches the rewritten file
    assert "remeasured" in metadata["metrics"] and zoo.entry("tiny/first_token")["metrics"] == metadata["metrics"]
    assert metadata["history"] == before["history"]
    assert zoo.entry("tiny/first_token")["train_seconds"] == before_entry["train_seconds"]
    for name, tensor in before_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    with pytest.raises(ValueError, match="whose measurements can be redone"):
        zoo.remeasure("nope")


@pytest.mark.parametrize("name", zoo.names())
def test_every_committed_zoo_model_matches_its_manifest(name):
    model, metadata = zoo.load(name)
    assert metadata["seed"] == zoo.entry(name)["seed"]
