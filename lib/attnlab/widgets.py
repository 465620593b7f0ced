"""Interactive views built from core ipywidgets only (so they render on Colab, Binder and JupyterLab alike)."""
import matplotlib.pyplot as plt
from IPython.display import display
from ipywidgets import interact


def interactive_figure(draw, **controls):
    """Like ipywidgets.interact, for a function that returns a matplotlib figure: each change of a control
    redraws the figure once (interact alone would show it twice: once returned, once by the inline backend).
    The figure's title is also printed as text, for screen readers and for tests."""
    def show(**values):
        fig = draw(**values)
        display(fig)
        print(fig.get_suptitle())
        plt.close(fig)

    return interact(show, **controls)
