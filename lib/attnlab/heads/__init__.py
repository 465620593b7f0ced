"""Part II: how a transformer trained on in-context sparse linear regression uses its heads (in the spirit of
Chen, Zhao and Zou, NeurIPS 2024, arXiv 2408.04532).

- `config`: every choice of the study in one place (TASK, LAYERS, HEADS, MODEL, TRAINING, CONTRAST, ...);
- `run`: training (`train_run` -> `HeadsRun`), the measurements (`analyse` -> `Analysis`), the baselines, the
  zoo (`pretrained`, `default_model`);
- `construction_study`: the hand-built transformer of `attnlab.construction`, measured alike;
- `report`: paper B's claims (`mechanism_claims`, `risk_claims`, `check_bar`), tables, figures and `reproduce`:

    python -m attnlab.reproduce heads --seeds 0,1,2 --out results.json
"""
from .. import zoo
from .config import (CONTRAST, EVAL_PROMPTS, GD_STEPS, HEADS, LAYERS, LIVE_TRAINING, METHODS, MODEL, POSITIONS, TASK,
                     TRAINING, ZOO_HEADS, ZOO_LAYERS, claim_range, underdetermined_range)
from .construction_study import (DESIGN_BETA, construction_exactness, construction_pattern, construction_risks,
                                 construction_study)
from .report import (CLAIM_KEYS, Claim, SeedResult, check_bar, mechanism_claims, per_seed, plot, print_tables,
                     reproduce, risk_claims, summarize)
from .run import (CONTRAST_NAME, Analysis, HeadsRun, analyse, baseline_curves, build_zoo_model, default_model,
                  layer1_reweighting, live_model, make_model, make_task, minus_ridge, pretrained, probing_reference,
                  prompts, train_run, zoo_name, zoo_recipes)

__all__ = ["zoo", "CONTRAST", "EVAL_PROMPTS", "GD_STEPS", "HEADS", "LAYERS", "LIVE_TRAINING", "METHODS", "MODEL", "POSITIONS",
           "TASK", "TRAINING", "ZOO_HEADS", "ZOO_LAYERS", "claim_range", "underdetermined_range", "CLAIM_KEYS", "Claim",
           "SeedResult", "check_bar", "mechanism_claims", "per_seed", "plot", "print_tables", "reproduce",
           "risk_claims", "summarize", "CONTRAST_NAME", "DESIGN_BETA", "Analysis", "HeadsRun", "analyse",
           "baseline_curves", "build_zoo_model", "construction_exactness", "construction_pattern",
           "construction_risks", "construction_study", "default_model",
           "layer1_reweighting", "live_model", "make_model", "make_task", "minus_ridge", "pretrained",
           "probing_reference", "prompts",
           "train_run", "zoo_name", "zoo_recipes"]
