"""Data generators. Each task samples seeded batches and knows its own loss and metric (see attnlab.train)."""
from .base import ClassificationTask
from .toy import FirstToken

__all__ = ["ClassificationTask", "FirstToken"]
