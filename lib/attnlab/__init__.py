"""attnlab: the library behind the course "Transformers from the inside: depth and multi-head attention"."""
from . import tasks
from .model import Config, Transformer, load, save
from .train import History, describe_device, pick_device, seed_everything, train

__all__ = ["tasks", "Config", "Transformer", "save", "load", "train", "History", "pick_device", "describe_device",
           "seed_everything"]
