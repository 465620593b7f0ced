"""Print the ten-seed table of the dividing algorithm (attnlab.construction_dividing) and the layer-norm transformer
(attnlab.construction_layernorm) against gd, ridge, the course's construction, preprocess_gd and the Lasso:
python benchmarks/construction_search.py (about a minute on one core)."""
import torch

from attnlab.heads.dividing_study import main

if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
