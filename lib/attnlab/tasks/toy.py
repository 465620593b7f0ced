"""The smallest task with something to see: answer, at the last position, with the first token."""
import torch

from .base import ClassificationTask, check_split


class FirstToken(ClassificationTask):
    """Random tokens; the label is the first one. One attention layer solves it by looking back to position 0.

    Notebooks: 0.1"""

    def __init__(self, vocab_size=16, seq_len=8):
        if vocab_size < 2 or seq_len < 2:
            raise ValueError(f"vocab_size and seq_len must be at least 2, got {vocab_size} and {seq_len}")
        self.vocab_size, self.seq_len = vocab_size, seq_len
        self.num_classes = vocab_size
        self.chance = 1 / vocab_size

    def sample(self, batch_size, generator, split="train"):
        check_split(split)  # the same distribution for both: nothing here is held out
        tokens = torch.randint(self.vocab_size, (batch_size, self.seq_len), generator=generator)
        return tokens, tokens[:, 0].clone()
