"""The fine-tuning core shared by the chatbot, the sentiment monitor and the recommender.

Importing it makes the process offline and torch-only before any Hugging Face library loads:
the suite never downloads weights (models come from the offline registry) and TensorFlow,
which Rasa installs beside torch, would otherwise be imported by transformers for nothing.
"""
import os as _os

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "USE_TF": "0",
    "USE_FLAX": "0",
    "USE_TORCH": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}.items():
    _os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
