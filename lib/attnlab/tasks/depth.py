"""The four sequence tasks of Part I, one per ability that depth buys (after Chen & Zou, ICML 2024).

| task                     | ability                   | layers a solution needs                        |
|--------------------------|---------------------------|------------------------------------------------|
| SequenceClassification   | memorization              | 1: store a map from sequences to labels        |
| InContextQA              | reasoning                 | 2: copy each question to its answer, then match |
| TemplateMatching         | generalization            | 2: parse where equal tokens sit, then read it  |
| InContextTemplate        | contextual generalization | 3: copy the labels, parse, then match          |

Every task is a classification read at the last position (see `ClassificationTask`): the label is a class
index in [0, num_classes). The generators are the course's own, in the spirit of the paper; three choices
make the depth threshold a property of the task and not of luck:
- the templates AABB, ABAB and ABBA have the same symbol counts, so only *where* equal tokens sit tells
  them apart;
- template matching ends with a fixed query token "=", so the last position cannot compare its own token
  with the earlier ones (one layer would then parse the template); its test tokens are never seen in training;
- in-context QA draws questions and answers from one vocabulary, so that one layer cannot test a fixed
  slot by softmax competition (see `InContextQA`); the answers of a prompt are distinct, so chance is exact.
One more choice makes in-context template matching learnable at all: a training scaffold (a fixed map in
some training prompts, never in test ones), and a label asked at the end of every example, not only the
query's (its targets are (batch, k + 1); `query_labels` picks the query's). See `InContextTemplate`.
Each class documents its layout and its chance level.
"""
import torch
import torch.nn.functional as F

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

    Prompt: ``q_1 a_1 q_2 a_2 ... q_k a_k q`` (length 2k + 1), with k = num_pairs: k question-answer
    pairs, then a query q, one of the context questions, at the last position. Questions and answers share
    one vocabulary of vocab_size tokens; the k questions are distinct, and so are the k answers (drawn
    independently of the questions, afresh for every prompt). The label is the answer paired with q, as a
    token id (num_classes = vocab_size). A model that cannot pair questions with answers can at best guess
    one of the k answers of the context: `chance` = 1 / k. Both splits have the same distribution (the
    pairing is new in every prompt, so nothing can be memorized).

    Why one shared vocabulary: one attention layer at q can test a single fixed slot (attend to q_s, unless
    it equals q, then fall through to a_s, by softmax competition). With answers in their own vocabulary
    that trick is worth about 1/k above chance per head; when questions are answers too, the fall-back
    reads q_s, a wrong answer, and the trick is worth nothing.
    """

    def __init__(self, num_pairs=4, vocab_size=16):
        _check_int("num_pairs", num_pairs, 2)
        _check_int("vocab_size", vocab_size, 2)
        if vocab_size < num_pairs:
            raise ValueError(f"vocab_size must be at least num_pairs (the questions of a prompt are distinct, "
                             f"and so are its answers), got vocab_size={vocab_size} < num_pairs={num_pairs}")
        self.num_pairs, self.vocab_size = num_pairs, vocab_size
        self.seq_len = 2 * num_pairs + 1
        self.num_classes = vocab_size
        self.chance = 1 / num_pairs

    def sample(self, batch_size, generator, split="train"):
        check_split(split)
        _check_batch(batch_size)
        B, k = batch_size, self.num_pairs
        questions = _random_permutations(B, self.vocab_size, generator)[:, :k]  # (B, k) distinct
        answers = _random_permutations(B, self.vocab_size, generator)[:, :k]  # (B, k) distinct
        which = torch.randint(k, (B,), generator=generator)  # which pair is asked
        context = torch.stack([questions, answers], dim=2).reshape(B, 2 * k)
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

    Prompt (length 5 k + 4, k = num_examples): ``s_1 L_1  s_2 L_2  ...  s_k L_k  s``. Each s_i is four
    tokens filling a template with its own two tokens (the 2 (k + 1) filler tokens of a prompt are
    distinct, drawn from [0, num_tokens), so equal tokens only ever sit inside one sequence), and L_i is the
    label token that the prompt's template-to-label map gives its template. The map is a random permutation,
    drawn afresh for every prompt. Every template appears in the context at least once (in a random order,
    the other k - 3 examples drawing their templates at random), so all three labels are shown. The query s
    fills one of the templates with fresh tokens; its last token is the last position, where the answer is
    read: the class in [0, 3) of the label token the context gave that template (label token minus
    label_offset). Without reading the context the three labels are equally likely: `chance` = 1/3.

    Targets are (batch, k + 1): the label of every example, asked at the example's last token, as a language
    model would be trained to answer at every example. An example whose template the prompt has not shown
    before cannot be answered from the context, so its target is IGNORE; the last column, the query's, always
    has an answer (`query_labels`), and it is what the accuracy counts.

    fixed_map, a training scaffold: in this share of the *training* prompts the map is the fixed one
    (AABB -> 0, ABAB -> 1, ABBA -> 2), and every example of them is answered. Three steps must compose
    (parse, copy the parse onto the label, match), and none pays off alone, so from scratch the gradient
    finds none of them (notebook I.4 shows a depth-3 model trained without it). The fixed map pays for
    parsing alone, which starts the first layer; copy and match follow. The test split never uses it, so the
    accuracy measures the in-context rule only; and a model that had learned only the fixed map scores chance.

    The prompt ends on the query's own last token, not on a fixed "=": the last position may parse its own
    sequence at once (one layer), but the labels must still learn their templates (parse, then copy: two
    layers) before the query can match them (a third). num_test_tokens >= 2 (k + 1) keeps train and test
    filler tokens disjoint (test fillers are [num_tokens, num_tokens + num_test_tokens)); by default both
    splits share the tokens, since what must generalize here is the map, which is new in every prompt.
    """

    IGNORE = -100  # the target of an example that cannot be answered yet (cross_entropy's ignore_index)

    def __init__(self, num_examples=6, num_tokens=32, num_test_tokens=0, fixed_map=0.5):
        _check_int("num_examples", num_examples, len(TEMPLATES))  # every template must appear in the context
        fillers = 2 * (num_examples + 1)  # a prompt's distinct filler tokens
        _check_int("num_tokens", num_tokens, fillers)
        _check_int("num_test_tokens", num_test_tokens, 0)
        if 0 < num_test_tokens < fillers:
            raise ValueError(f"num_test_tokens must be 0 (both splits share the tokens) or at least {fillers} (a "
                             f"prompt uses {fillers} distinct filler tokens), got {num_test_tokens}")
        if isinstance(fixed_map, bool) or not isinstance(fixed_map, (int, float)) or not 0 <= fixed_map <= 1:
            raise ValueError(f"fixed_map must be a share between 0 and 1, got {fixed_map!r}")
        self.num_examples, self.num_tokens, self.num_test_tokens = num_examples, num_tokens, num_test_tokens
        self.fixed_map = fixed_map
        self.num_templates = len(TEMPLATES)
        self.label_offset = num_tokens + num_test_tokens  # label tokens: label_offset + 0, 1, 2
        self.vocab_size = self.label_offset + self.num_templates
        self.seq_len = 5 * num_examples + 4
        self.num_classes = self.num_templates
        self.chance = 1 / self.num_templates

    def tokens(self, split):
        """The filler tokens a split draws from, as a range."""
        check_split(split)
        if split == "test" and self.num_test_tokens:
            return range(self.num_tokens, self.num_tokens + self.num_test_tokens)
        return range(0, self.num_tokens)

    def answer_positions(self):
        """The positions where the labels are asked: the last token of every example, the query's last."""
        return torch.arange(self.num_examples + 1) * 5 + 3

    def sample(self, batch_size, generator, split="train"):
        tokens = self.tokens(split)
        _check_batch(batch_size)
        B, k, n = batch_size, self.num_examples, self.num_templates
        label_of = _random_permutations(B, n, generator)  # label_of[b, t]: the label of template t
        if split == "train" and self.fixed_map:
            fixed = torch.rand(B, generator=generator) < self.fixed_map
            label_of = torch.where(fixed[:, None], torch.arange(n), label_of)
        else:
            fixed = torch.zeros(B, dtype=torch.bool)
        # the context: every template once, then k - n random ones, all in a random order; then the query
        context = torch.cat([_random_permutations(B, n, generator), torch.randint(n, (B, k - n), generator=generator)], 1)
        context = context.gather(1, _random_permutations(B, k, generator))
        templates = torch.cat([context, torch.randint(n, (B, 1), generator=generator)], dim=1)  # (B, k + 1)
        fillers = _random_permutations(B, len(tokens), generator)[:, :2 * (k + 1)] + tokens.start
        a, b = fillers[:, 0::2], fillers[:, 1::2]  # (B, k + 1) each: all 2 (k + 1) fillers distinct
        filled = _fill(TEMPLATES[templates], a, b)  # (B, k + 1, 4)
        labels = label_of.gather(1, templates)  # (B, k + 1)
        label_tokens = labels[:, :k, None] + self.label_offset
        prompt = torch.cat([torch.cat([filled[:, :k], label_tokens], dim=2).reshape(B, 5 * k), filled[:, k]], dim=1)
        seen = F.one_hot(templates, n)  # (B, k + 1, n)
        shown = seen.cumsum(1) > seen  # shown[b, i, t]: template t appeared before example i
        answerable = shown.gather(2, templates[:, :, None]).squeeze(2) | fixed[:, None]
        return prompt, torch.where(answerable, labels, self.IGNORE)

    def query_labels(self, targets):
        return targets[:, -1]

    def loss(self, outputs, targets):
        """Cross-entropy at every example's last token, over the examples that can be answered."""
        answers = outputs[:, self.answer_positions()]  # (B, k + 1, classes)
        return F.cross_entropy(answers.flatten(0, 1), targets.flatten(), ignore_index=self.IGNORE)


# The four tasks of Part I by name, each with its default arguments.
TASKS = {
    "memorization": SequenceClassification,
    "icqa": InContextQA,
    "template": TemplateMatching,
    "in_context_template": InContextTemplate,
}
