"""Fine-tuning: documented arguments, a Trainer subclass, and the end-to-end ``finetune``."""
from shared.training.args import FineTuneArgs
from shared.training.finetune import FineTuneResult, finetune
from shared.training.trainer import ClassificationTrainer

__all__ = ["FineTuneArgs", "FineTuneResult", "finetune", "ClassificationTrainer"]
