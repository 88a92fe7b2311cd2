"""Stage 1, data: reading sources, batch configs, validation at the door, the Batch table."""

from .batch import Batch, Exclusion
from .config import BatchConfig, find_config_file, read_config
from .load import load_batch
from .metric import MetricSpec, from_error, infer_direction, to_error
from .slug import slugify

__all__ = ["Batch", "BatchConfig", "Exclusion", "MetricSpec", "find_config_file", "from_error", "infer_direction",
           "load_batch", "read_config", "slugify", "to_error"]
