"""What every classification task shares: the answer is read out at the last position."""
import torch.nn.functional as F

SPLITS = ("train", "test")


def check_split(split):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


class ClassificationTask:
    """Subclasses set vocab_size, seq_len, num_classes and chance, and implement sample()."""

    higher_is_better = True
    metric_name = "accuracy"

    def query_labels(self, targets):
        """The label asked at the last position, one per prompt: the targets themselves, unless a task also
        asks for labels at other positions (see InContextTemplate)."""
        return targets

    def loss(self, outputs, targets):
        return F.cross_entropy(outputs[:, -1], targets)

    def metric(self, outputs, targets):
        """Accuracy of the answer read at the last position."""
        return (outputs[:, -1].argmax(-1) == self.query_labels(targets)).float().mean().item()
