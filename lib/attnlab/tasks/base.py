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

    def loss(self, outputs, targets):
        return F.cross_entropy(outputs[:, -1], targets)

    def metric(self, outputs, targets):
        return (outputs[:, -1].argmax(-1) == targets).float().mean().item()
