"""Part II: how a transformer trained on in-context sparse linear regression uses its heads (in the spirit of
Chen, Zhao and Zou, NeurIPS 2024, arXiv 2408.04532).

- `config`: every choice of the study in one place (TASK, LAYERS, HEADS, MODEL, TRAINING, CONTRAST, ...);
- `run`: training (`train_run` -> `HeadsRun`), the measurements (`analyse` -> `Analysis`), the zoo (`pretrained`,
  `default_model`);
- `paired_study`: the baselines scored on the model's own prompts (`baseline_errors`, `baseline_curves`) and the
  paired comparisons (`paired_rows`, `minus_ridge`);
- `contrast`: the layer contrast (zero- and mean-ablation, the architectures trained from scratch, the pruned model
  fine-tuned);
- `construction_study`: the hand-built transformer of `attnlab.construction`, measured alike;
- `report`: paper B's claims (`mechanism_claims`, `risk_claims`, `contrast_claims`, `check_bar`), tables, figures;
- `reproduction`: `reproduce` and `merge`:

    python -m attnlab.reproduce heads --seeds 0,1,2 --out results.json
"""
from .. import zoo
from .config import (ARCHITECTURES, CONTRAST, EVAL_PROMPTS, FINE_TUNE, GD_STEPS, HEADS, LAYERS, LIVE_TRAINING, METHODS,
                     MODEL, POSITIONS, TASK, TRAINING, ZOO_HEADS, ZOO_LAYERS, claim_range, underdetermined_range)
from .construction_study import (DESIGN_BETA, construction_exactness, construction_pattern, construction_risks,
                                 construction_study)
from .contrast import (PRUNED_FINE_TUNED, ablation_rows, architecture_label, architecture_mask, layer_contrast,
                       train_with_heads_removed)
from .paired_study import PAIRED_METHODS, baseline_curves, baseline_errors, minus_ridge, paired_rows
from .report import (CLAIM_KEYS, Claim, SeedResult, check_bar, contrast_claims, mechanism_claims, per_seed, plot,
                     print_tables, pruning_key, risk_claims, summarize)
from .reproduction import merge, reproduce
from .run import (CONTRAST_NAME, Analysis, HeadsRun, analyse, build_zoo_model, default_model, layer1_reweighting,
                  measure_zoo_model,
                  live_model, make_model, make_task, pretrained, probing_reference, prompts, train_run, zoo_name,
                  zoo_recipes)

__all__ = ["zoo", "ARCHITECTURES", "CONTRAST", "EVAL_PROMPTS", "FINE_TUNE", "GD_STEPS", "HEADS", "LAYERS",
           "LIVE_TRAINING", "METHODS", "MODEL", "POSITIONS", "TASK", "TRAINING", "ZOO_HEADS", "ZOO_LAYERS",
           "claim_range", "underdetermined_range", "CLAIM_KEYS", "Claim", "SeedResult", "check_bar", "contrast_claims",
           "mechanism_claims", "per_seed", "plot", "print_tables", "pruning_key", "reproduce", "merge", "risk_claims",
           "summarize", "CONTRAST_NAME", "DESIGN_BETA", "PAIRED_METHODS", "PRUNED_FINE_TUNED", "Analysis", "HeadsRun",
           "ablation_rows", "analyse", "architecture_label", "architecture_mask", "baseline_curves", "baseline_errors",
           "build_zoo_model", "measure_zoo_model", "construction_exactness", "construction_pattern", "construction_risks",
           "construction_study", "default_model", "layer_contrast", "layer1_reweighting", "live_model", "make_model",
           "make_task", "minus_ridge", "paired_rows", "pretrained", "probing_reference", "prompts",
           "train_with_heads_removed", "train_run", "zoo_name", "zoo_recipes"]
