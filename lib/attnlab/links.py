"""The one place that says where the course lives: every notebook's badges and Colab set-up come from here."""
REPOSITORY = "attnlab/transformers-from-the-inside"  # GitHub owner/name
BRANCH = "main"
INSTALL = f"attnlab @ git+https://github.com/{REPOSITORY}@{BRANCH}"  # what the Colab set-up cell installs


def colab_url(notebook):
    """notebook: a path from the repository root, such as course/part0_foundations/01_attention_from_scratch.ipynb."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{notebook}"


def binder_url(notebook):
    return f"https://mybinder.org/v2/gh/{REPOSITORY}/{BRANCH}?labpath={notebook}"


def badges(notebook):
    """The markdown line of badges that opens every notebook."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)}) "
            f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook)})")


SETUP_CELL = f'''# Set-up. On Colab this installs the course library (Colab already has torch); elsewhere it does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "{INSTALL}"'''
