"""The four sequence tasks of Part I, one per ability that depth buys (after Chen & Zou, ICML 2024).

| task                     | ability                   | layers a solution needs                        |
|--------------------------|---------------------------|------------------------------------------------|
| SequenceClassification   | memorization              | 1: store a map from sequences to labels        |
| InContextQA              | reasoning                 | 2: copy each question to its answer, then match |
| TemplateMatching         | generalization            | 2: parse where equal tokens sit, then read it  |
| InContextTemplate        | contextual generalization | 3: parse, copy labels to templates, then match |

Every task is a classification read at the last position (see `ClassificationTask`): the label is a class
index in [0, num_classes). The generators are the course's own, in the spirit of the paper; three choices
make the depth threshold a property of the task and not of luck:
- the templates AABB, ABAB and ABBA have the same symbol counts, so only *where* equal tokens sit tells
  them apart;
- where a model could shortcut at the last position (compare the last token with earlier ones in one
  layer), the prompt ends with a fixed query token "=" instead, so the last position knows nothing by itself;
- template matching draws its test tokens from a set never seen in training.
"""
import torch

from .base import ClassificationTask, check_split

# The three templates with two A's and two B's (up to renaming A and B): 0 stands for A, 1 for B.
TEMPLATES = torch.tensor([[0, 0, 1, 1],   # AABB
                          [0, 1, 0, 1],   # ABAB
                          [0, 1, 1, 0]])  # ABBA
TEMPLATE_NAMES = ("AABB", "ABAB", "ABBA")


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")


def _check_batch(batch_size):
    _check_int("batch_size", batch_size, 1)


def _distinct_pairs(shape, low, count, generator):
    """Two tensors a, b of `shape` with a != b everywhere, each pair uniform over ordered distinct pairs
    drawn from the tokens low, low + 1, ..., low + count - 1."""
    a = torch.randint(count, shape, generator=generator)
    b = (a + 1 + torch.randint(count - 1, shape, generator=generator)) % count
    return a + low, b + low


def _fill(templates, a, b):
    """Fill templates (..., 4) of 0/1 with the tokens a (where 0) and b (where 1); a, b have shape (...)."""
    return torch.where(templates == 0, a.unsqueeze(-1), b.unsqueeze(-1))


def _random_permutations(batch_size, n, generator):
    """(batch_size, n): an independent uniform permutation of 0..n-1 in every row."""
    return torch.rand(batch_size, n, generator=generator).argsort(dim=-1)


class SequenceClassification(ClassificationTask):
    """Memorization: a fixed set of random sequences, each with a random label.

    Prompt: ``x_1 x_2 ... x_L`` (random tokens in [0, vocab_size)); the label of the whole sequence is
    read at the last position. The set (sequences and labels) is fixed by `seed`; both splits sample
    from the same set, because what is tested is memory. The labels are balanced (each class used
    floor or ceil of num_sequences / num_classes times), so `chance`, the accuracy of the best guess
    that ignores the sequence, is exactly ceil(num_sequences / num_classes) / num_sequences.
    `all_examples()` returns the whole set, for an exact accuracy.
    """

    def __init__(self, num_sequences=64, seq_len=8, vocab_size=16, num_classes=4, seed=0):
        _check_int("num_sequences", num_sequences, 1)
        _check_int("seq_len", seq_len, 1)
        _check_int("vocab_size", vocab_size, 2)
        _check_int("num_classes", num_classes, 2)
        _check_int("seed", seed, 0)
        if vocab_size ** seq_len < num_sequences:
            raise ValueError(f"only vocab_size ** seq_len = {vocab_size ** seq_len} distinct sequences exist, "
                             f"fewer than num_sequences = {num_sequences}: raise vocab_size or seq_len")
        self.vocab_size, self.seq_len, self.num_classes = vocab_size, seq_len, num_classes
        self.num_sequences, self.seed = num_sequences, seed
        generator = torch.Generator().manual_seed(seed)
        sequences = torch.randint(vocab_size, (num_sequences, seq_len), generator=generator)
        while len(torch.unique(sequences, dim=0)) < num_sequences:  # a collision: redraw (rare)
            sequences = torch.randint(vocab_size, (num_sequences, seq_len), generator=generator)
        self.sequences = sequences
        self.labels = (torch.arange(num_sequences) % num_classes)[torch.randperm(num_sequences, generator=generator)]
        self.chance = -(-num_sequences // num_classes) / num_sequences  # ceil(N / C) / N

    def sample(self, batch_size, generator, split="train"):
        check_split(split)  # one set for both: memorization is tested on what was memorized
        _check_batch(batch_size)
        index = torch.randint(self.num_sequences, (batch_size,), generator=generator)
        return self.sequences[index], self.labels[index]

    def all_examples(self):
        """The whole memorized set: (sequences (N, L), labels (N,))."""
        return self.sequences.clone(), self.labels.clone()


class InContextQA(ClassificationTask):
    """Reasoning: in-context question answering.

    Prompt: ``q_1 a_1 q_2 a_2 ... q_k a_k q`` (length 2k + 1), with k = num_pairs.
    The questions q_1..q_k are distinct tokens in [0, num_questions); the answers a_1..a_k are a random
    permutation of the k answer tokens num_questions, ..., num_questions + k - 1; the query q is one of the
    context questions. The label is the answer paired with q, as a class in [0, k) (answer token minus
    num_questions). Every answer occurs once in the context, so a model that cannot pair questions with
    answers scores exactly `chance` = 1 / k. Both splits have the same distribution (the pairing is drawn
    afresh for every prompt, so nothing can be memorized).
    """

    def __init__(self, num_pairs=4, num_questions=16):
        _check_int("num_pairs", num_pairs, 2)
        _check_int("num_questions", num_questions, 2)
        if num_questions < num_pairs:
            raise ValueError(f"num_questions must be at least num_pairs (questions in a prompt are distinct), "
                             f"got num_questions={num_questions} < num_pairs={num_pairs}")
        self.num_pairs, self.num_questions = num_pairs, num_questions
        self.vocab_size = num_questions + num_pairs
        self.seq_len = 2 * num_pairs + 1
        self.num_classes = num_pairs
        self.chance = 1 / num_pairs

    def sample(self, batch_size, generator, split="train"):
        check_split(split)
        _check_batch(batch_size)
        B, k = batch_size, self.num_pairs
        questions = _random_permutations(B, self.num_questions, generator)[:, :k]  # (B, k) distinct
        answers = _random_permutations(B, k, generator)  # (B, k): classes 0..k-1, each once
        which = torch.randint(k, (B,), generator=generator)  # which pair is asked
        context = torch.stack([questions, answers + self.num_questions], dim=2).reshape(B, 2 * k)
        query = questions.gather(1, which[:, None])
        labels = answers.gather(1, which[:, None]).squeeze(1)
        return torch.cat([context, query], dim=1), labels


class TemplateMatching(ClassificationTask):
    """Generalization: which template a sequence fills, on tokens never seen in training.

    Prompt: ``x_1 x_2 x_3 x_4 =``: two distinct tokens A and B fill one of the templates AABB, ABAB, ABBA
    (label 0, 1, 2, drawn uniformly), then the fixed query token "=" (id vocab_size - 1), where the answer
    is read. The training split draws A and B from the tokens [0, num_train_tokens), the test split from
    the disjoint tokens [num_train_tokens, num_train_tokens + num_test_tokens). All templates hold two A's
    and two B's, so only where equal tokens sit tells them apart: `chance` = 1/3.
    """

    def __init__(self, num_train_tokens=64, num_test_tokens=16):
        _check_int("num_train_tokens", num_train_tokens, 2)
        _check_int("num_test_tokens", num_test_tokens, 2)
        self.num_train_tokens, self.num_test_tokens = num_train_tokens, num_test_tokens
        self.query_token = num_train_tokens + num_test_tokens
        self.vocab_size = self.query_token + 1
        self.seq_len = 5
        self.num_classes = len(TEMPLATES)
        self.chance = 1 / len(TEMPLATES)

    def tokens(self, split):
        """The filler tokens a split draws from, as a range."""
        check_split(split)
        if split == "train":
            return range(0, self.num_train_tokens)
        return range(self.num_train_tokens, self.num_train_tokens + self.num_test_tokens)

    def sample(self, batch_size, generator, split="train"):
        tokens = self.tokens(split)
        _check_batch(batch_size)
        labels = torch.randint(len(TEMPLATES), (batch_size,), generator=generator)
        a, b = _distinct_pairs((batch_size,), tokens.start, len(tokens), generator)
        filled = _fill(TEMPLATES[labels], a, b)  # (B, 4)
        query = torch.full((batch_size, 1), self.query_token)
        return torch.cat([filled, query], dim=1), labels


class InContextTemplate(ClassificationTask):
    """Contextual generalization: in-context template matching.

    Prompt (length 5 * (n + 1), n = 3 templates):
    ``s_1 L_1  s_2 L_2  s_3 L_3  s =`` where each s_i is four tokens filling a template (its own two
    distinct tokens, from [0, num_tokens)), every template AABB, ABAB, ABBA appears once in the context
    in a random order, and L_i is its label token. Which label goes with which template is a random
    permutation, drawn afresh for every prompt. The query s fills one of the templates with fresh tokens,
    and "=" (id vocab_size - 1) asks for its label. The label is the class in [0, 3) of the label token
    the context gave that template (label token minus num_tokens). Without reading the context the
    three labels are equally likely: `chance` = 1/3.

    num_test_tokens > 0 keeps train and test filler tokens disjoint (test fillers are
    [num_tokens, num_tokens + num_test_tokens)); by default both splits share the tokens, since what must
    generalize here is the template-to-label map, which is new in every prompt.
    """

    def __init__(self, num_tokens=32, num_test_tokens=0):
        _check_int("num_tokens", num_tokens, 2)
        _check_int("num_test_tokens", num_test_tokens, 0)
        if num_test_tokens == 1:
            raise ValueError("num_test_tokens must be 0 (shared tokens) or at least 2 (two distinct tokens "
                             "fill a template), got 1")
        self.num_tokens, self.num_test_tokens = num_tokens, num_test_tokens
        self.num_templates = len(TEMPLATES)
        self.label_offset = num_tokens + num_test_tokens  # label tokens: label_offset + 0, 1, 2
        self.query_token = self.label_offset + self.num_templates
        self.vocab_size = self.query_token + 1
        self.seq_len = 5 * (self.num_templates + 1)
        self.num_classes = self.num_templates
        self.chance = 1 / self.num_templates

    def tokens(self, split):
        """The filler tokens a split draws from, as a range."""
        check_split(split)
        if split == "test" and self.num_test_tokens:
            return range(self.num_tokens, self.num_tokens + self.num_test_tokens)
        return range(0, self.num_tokens)

    def sample(self, batch_size, generator, split="train"):
        tokens = self.tokens(split)
        _check_batch(batch_size)
        B, n = batch_size, self.num_templates
        label_of = _random_permutations(B, n, generator)  # label_of[b, t]: the label of template t
        order = _random_permutations(B, n, generator)  # the templates of the context, in order
        query_template = torch.randint(n, (B,), generator=generator)
        templates = torch.cat([order, query_template[:, None]], dim=1)  # (B, n + 1)
        a, b = _distinct_pairs((B, n + 1), tokens.start, len(tokens), generator)
        filled = _fill(TEMPLATES[templates], a, b)  # (B, n + 1, 4)
        context_labels = label_of.gather(1, order) + self.label_offset  # (B, n)
        ends = torch.cat([context_labels, torch.full((B, 1), self.query_token)], dim=1)  # (B, n + 1)
        prompt = torch.cat([filled, ends[:, :, None]], dim=2).reshape(B, 5 * (n + 1))
        return prompt, label_of.gather(1, query_template[:, None]).squeeze(1)


# The four tasks of Part I by name, each with its default arguments.
TASKS = {
    "memorization": SequenceClassification,
    "icqa": InContextQA,
    "template": TemplateMatching,
    "in_context_template": InContextTemplate,
}
