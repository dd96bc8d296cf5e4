"""BERT and MPNet sequence classifiers that mean-pool the token vectors instead of using [CLS].

Sentence-transformers encoders such as all-MiniLM-L6-v2 were trained so that the *mean* of
their token vectors is the sentence meaning; their [CLS] vector and pooler were never tuned
for that. A classifier head on the mean therefore starts from a good sentence representation
and converges in fewer epochs on a CPU. The class registers itself with the transformers Auto
classes (model types ``nlpsuite-bert-meanpool``, ``nlpsuite-mpnet-meanpool``), so
``AutoModelForSequenceClassification`` loads a saved folder once this module is imported, and
the ONNX export traces it as is. MPNet (all-mpnet-base-v2, the distillation teacher) has no
token types; its forward ignores them.

With ``normalize_pooled`` in the config, the mean is scaled to unit length before the head: the
features a sentence-transformers model was trained to compare by cosine, and the ones the
``probe``, ``lp-ft`` and ``contrastive`` recipes fit their logistic head on
(``shared.training.recipes``), so a head fitted by scikit-learn on those features serves as is.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    BertConfig,
    BertModel,
    BertPreTrainedModel,
    MPNetConfig,
    MPNetModel,
    MPNetPreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "nlpsuite-bert-meanpool"
MPNET_MODEL_TYPE = "nlpsuite-mpnet-meanpool"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor, *, normalize: bool) -> torch.Tensor:
    """The attention-masked mean of the token vectors, optionally scaled to unit length."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return nn.functional.normalize(pooled, p=2, dim=-1) if normalize else pooled


class _MeanPooledClassifier:
    """The shared head: dropout and a linear layer on the attention-masked mean of the tokens.

    A subclass builds its encoder under the attribute named by its ``base_model_prefix`` (so
    pretrained weights load into it) and says how to call it in ``_encode``.
    """

    def _add_head(self, config) -> None:
        self.num_labels = config.num_labels
        dropout = getattr(config, "classifier_dropout", None)
        self.dropout = nn.Dropout(dropout if dropout is not None else config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _encode(self, input_ids, attention_mask, token_type_ids) -> torch.Tensor:
        raise NotImplementedError

    def pooled(self, input_ids, attention_mask=None, token_type_ids=None) -> torch.Tensor:
        """The features the head reads: the masked mean of the tokens (unit length with
        ``normalize_pooled``). The int8 feature graphs (``shared.export.features``) export this."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self._encode(input_ids, attention_mask, token_type_ids)
        return mean_pool(hidden, attention_mask, normalize=bool(getattr(self.config, "normalize_pooled", False)))

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        pooled = self.pooled(input_ids, attention_mask, token_type_ids)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


class BertMeanPoolConfig(BertConfig):
    """A BERT config whose classifier reads the mean of the token vectors instead of [CLS]."""

    model_type = MODEL_TYPE

    def __init__(self, normalize_pooled: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.normalize_pooled = normalize_pooled


class BertMeanPoolForSequenceClassification(_MeanPooledClassifier, BertPreTrainedModel):
    """BERT with a mean-pooled classification head: what sentence-transformers encoders were trained for."""

    config_class = BertMeanPoolConfig

    def __init__(self, config: BertMeanPoolConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self._add_head(config)

    def _encode(self, input_ids, attention_mask, token_type_ids):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids).last_hidden_state


class MPNetMeanPoolConfig(MPNetConfig):
    """An MPNet config whose classifier reads the mean of the token vectors."""

    model_type = MPNET_MODEL_TYPE

    def __init__(self, normalize_pooled: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.normalize_pooled = normalize_pooled


class MPNetMeanPoolForSequenceClassification(_MeanPooledClassifier, MPNetPreTrainedModel):
    """MPNet with a mean-pooled classification head (the distillation teacher's architecture)."""

    config_class = MPNetMeanPoolConfig

    def __init__(self, config: MPNetMeanPoolConfig):
        super().__init__(config)
        self.mpnet = MPNetModel(config, add_pooling_layer=False)
        self._add_head(config)

    def _encode(self, input_ids, attention_mask, token_type_ids):
        return self.mpnet(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # no token types


MEAN_POOL_CONFIGS = {"bert": BertMeanPoolConfig, "mpnet": MPNetMeanPoolConfig}
"""Hugging Face model type of a base encoder -> the config of its mean-pooled classifier."""

for _config, _model in ((BertMeanPoolConfig, BertMeanPoolForSequenceClassification),
                        (MPNetMeanPoolConfig, MPNetMeanPoolForSequenceClassification)):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModelForSequenceClassification.register(_config, _model, exist_ok=True)
