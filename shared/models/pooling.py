"""A BERT sequence classifier that mean-pools the token vectors instead of using [CLS].

Sentence-transformers encoders such as all-MiniLM-L6-v2 were trained so that the *mean* of
their token vectors is the sentence meaning; their [CLS] vector and pooler were never tuned
for that. A classifier head on the mean therefore starts from a good sentence representation
and converges in fewer epochs on a CPU. The class registers itself with the transformers Auto
classes (model type ``nlpsuite-bert-meanpool``), so ``AutoModelForSequenceClassification``
loads a saved folder once this module is imported, and the ONNX export traces it as is.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, BertConfig, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "nlpsuite-bert-meanpool"


class BertMeanPoolConfig(BertConfig):
    model_type = MODEL_TYPE


class BertMeanPoolForSequenceClassification(BertPreTrainedModel):
    config_class = BertMeanPoolConfig

    def __init__(self, config: BertMeanPoolConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(MODEL_TYPE, BertMeanPoolConfig, exist_ok=True)
AutoModelForSequenceClassification.register(BertMeanPoolConfig, BertMeanPoolForSequenceClassification, exist_ok=True)
