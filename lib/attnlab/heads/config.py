"""Part II's set-up: every choice of the course's heads study, in one place, with the reason for each."""

# --- The task (attnlab.tasks.regression.SparseRegression) -----------------------------------------------------
# d = 4 coordinates, one of them non-zero (s = 1): small enough that a model trains in minutes on one CPU core,
# sparse enough that exploiting sparsity pays (the Lasso beats ridge, and the oracle far more).
# Joint tokens [x_i, y_i, 1], so no head has to pair y_i with x_i first. Training prompts hold 0 to n = d
# examples and 8 private queries (see Config.private_queries): one prompt teaches 8 predictions. Noise-free
# training targets: the same minimiser as the noisy ones, with less gradient noise.
TASK = dict(d=4, s=1, n=4, sigma=0.1, layout="joint", train_on="clean", curriculum_steps=0, queries=8)

# --- The model (attnlab.Config) -------------------------------------------------------------------------------
# Three layers of eight heads (with four, training sometimes settles on a solution above ridge). Linear
# attention, as in paper B's theory (one linear head can take one gradient step, see Part II.1), with full
# context: every token sees every example, and no token sees a query. Layer norm on: it is the only place where
# the model can divide, and it needs to (Part II.5 shows why).
LAYERS, HEADS = 3, 8
MODEL = dict(width=64, mlp=False, layer_norm=True, attention="linear", causal=False, private_queries=True)
# How the positional table starts: "zero" (the joint layout's examples are exchangeable, so no position signal),
# "sinusoidal" or "learned" (PyTorch's N(0, 1)); it is learned either way.
POSITIONS = "zero"
# The course's contrast: the same recipe with softmax attention (Part II.2 sets the two side by side).
CONTRAST = dict(attention="softmax")

# --- Training (attnlab.train) ---------------------------------------------------------------------------------
# AdamW with 100 warm-up steps and cosine decay to lr / 10, gradients clipped at 1.
TRAINING = dict(steps=12000, batch_size=64, lr=3e-3, weight_decay=0.0, eval_every=500)
# What Part II.2 trains live: the same recipe for half the steps, about 75-110 s on one CPU core; on ten seeds it
# ends below tuned ridge, on the same prompts, in every seed (benchmarks/live_recipe.py prints the table).
LIVE_TRAINING = dict(steps=6000)

# --- The layer contrast (heads.contrast) ---------------------------------------------------------------------
# Heads per layer of the models trained from scratch with the recipe above, beside the default (H, H, H): paper
# B's pattern predicts (H, 1, 1) about as good as (H, H, H) and (1, H, H) clearly worse. "H" is HEADS.
ARCHITECTURES = ((HEADS,) * LAYERS, (HEADS,) + (1,) * (LAYERS - 1), (1,) + (HEADS,) * (LAYERS - 1), (1,) * LAYERS)
# The pruned default model (the top head of each later layer kept) trained a little more with its heads still
# removed: does the risk come back? A third of TRAINING's lr, as it starts from a trained model, not from scratch.
FINE_TUNE = dict(steps=2000, lr=1e-3)
# Paper B's head pattern as the course tests it: where the pattern says one head is enough, the risk stays within
# 10% of the full model's (ratio <= ENOUGH); where it says every head is needed, it rises by 30% or more (>= NEEDED).
ENOUGH, NEEDED = 1.1, 1.3

# --- Measuring ------------------------------------------------------------------------------------------------
GD_STEPS = 10  # k for the gd and preprocess_gd baselines
EVAL_PROMPTS = 4000  # prompts per measurement
METHODS = ("ridge", "gd", "lasso", "oracle", "preprocess_gd")  # the baselines, tuned per n (attnlab.baselines)
ZOO_LAYERS, ZOO_HEADS = (1, 2, 3, 4), (1, 2, 4, 8)  # the heads explorer's grid


def claim_range(task):
    """The numbers of examples every "mean risk" of Part II averages over: n = s..d, where sparsity matters.

    Notebooks: II.2, II.3, II.5"""
    return range(task.s, task.d + 1)


def underdetermined_range(task):
    """n = s..d-1: fewer examples than unknowns, where preprocessing has the most to give; the range of every
    comparison of preprocess-then-optimize with gd and ridge.

    Notebooks: II.4, II.5"""
    return range(task.s, task.d)
