"""Part I: how deep must an attention-only transformer be for each of the four depth tasks?

- `config`: the recipe of every task (RECIPES), the depths (DEPTHS), the claims (BARS, GAPS), the zoo's one
  extra experiment;
- `run`: train one model (`train_depth_model`, `train_run` -> `Run`), test it, the zoo (`pretrained_run`,
  `models_by_depth`);
- `report`: every task at every depth for every seed, from scratch, with the table, the claims checked on every
  seed (`check_bars`, `misses`) and the figure:

    python -m attnlab.reproduce depth --seeds 0,1,2 --out results.json

- `circuit`: what a trained depth-3 model's attention does on in-context template matching (`template_circuit`).
"""
from .circuit import template_circuit
from .config import BARS, DEPTHS, GAPS, NO_SCAFFOLD, RECIPES, TASK_NAMES, TEST_SIZE, Recipe
from .report import check_bars, format_table, misses, plot_results, reproduce
from .run import (Run, build_zoo_model, check_task_name, make_model, make_task, models_by_depth, pretrained_run,
                  test_accuracy, train_depth_model, train_run, zoo_accuracies, zoo_name, zoo_recipes)

__all__ = ["template_circuit", "BARS", "DEPTHS", "GAPS", "NO_SCAFFOLD", "RECIPES", "TASK_NAMES", "TEST_SIZE", "Recipe",
           "check_bars", "format_table", "misses", "plot_results", "reproduce", "Run", "build_zoo_model",
           "check_task_name",
           "make_model", "make_task", "models_by_depth", "pretrained_run", "test_accuracy", "train_depth_model",
           "train_run", "zoo_accuracies", "zoo_name", "zoo_recipes"]
