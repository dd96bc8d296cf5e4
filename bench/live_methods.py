"""Ways to decline unknown requests, side by side on the probe's frozen int8 MiniLM features
(bench.live's ``methods`` part).

Every method scores how much a message looks like the bot's training data and declines below a
threshold; a message whose top intent is a decline intent (``out_of_scope``, and with the richer
class ``unsupported_banking``) is declined too. The four score methods learn from the bot's data
without any of the composed unknown requests; their threshold maximises, on the validation split
and the tune halves, correct answers + declined unknown requests - wrong answers. The decline
class learns from the tune halves instead (as the served bot does), so its threshold is chosen on
validation alone (``choose_threshold``, wrong_cost 0.5: the bot's setting). Reported on the
BANKING77 test split and the test halves.
"""
from __future__ import annotations

import logging
import time

import numpy as np

from shared.device.fit import softmax
from shared.teaching import unit_rows

logger = logging.getLogger("bench.live")
DECLINES = ("out_of_scope", "unsupported_banking")


def _data():
    from chatbot.banking77 import load_banking77
    from chatbot.intents import DECLINE_INTENTS, OWN_COPIES, own_examples, unknown_requests
    from shared.data import LabelledTexts, noisy_copy, stratified_split

    banking = load_banking77()
    own = own_examples()
    own_train = LabelledTexts([t for v in own.values() for t in v], [k for k, v in own.items() for _ in v], "own")
    tune = unknown_requests("tune")
    declines = LabelledTexts(tune.texts, [DECLINE_INTENTS[k] for k in tune.labels], "tune")

    def with_copies(data):
        parts = [data] + [noisy_copy(data, seed=s, rate=0.2) for s in range(1, OWN_COPIES + 1)]
        return LabelledTexts([t for p in parts for t in p.texts], [y for p in parts for y in p.labels], data.source)

    own_train = with_copies(own_train)
    base = LabelledTexts(banking["train"].texts + own_train.texts, banking["train"].labels + own_train.labels, "base")
    train, validation = stratified_split(base, 0.1, seed=42)
    return train, validation, with_copies(declines), banking["test"], tune, unknown_requests("test")


class _Head:
    """Logistic head (C=10, as the probe) with its temperature fitted on validation."""

    def __init__(self, x, y, xv, yv):
        from sklearn.linear_model import LogisticRegression

        from shared.device.fit import fit_temperature

        self.labels = np.array(sorted(set(y)))
        ids = {label: i for i, label in enumerate(self.labels)}
        self.model = LogisticRegression(C=10.0, max_iter=500).fit(x, [ids[v] for v in y])
        self.temperature = fit_temperature(self.model.decision_function(xv), np.array([ids[v] for v in yv]))

    def logits(self, x):
        return self.model.decision_function(x) / self.temperature


def _scores(head, train_x, train_y):
    """Each method's score function: higher = more like the training data."""
    labels = sorted(set(train_y))
    y = np.array(train_y)
    means = np.stack([train_x[y == label].mean(axis=0) for label in labels])
    centred = train_x - means[np.searchsorted(labels, y)]
    precision = np.linalg.pinv(np.cov(centred, rowvar=False) + 1e-4 * np.eye(train_x.shape[1]))

    mean_terms = np.einsum("kd,de,ke->k", means, precision, means)

    def mahalanobis(x):  # -(min over classes of (x - mean) P (x - mean)), expanded to stay small
        xp = x @ precision
        return -((xp * x).sum(axis=1)[:, None] - 2 * xp @ means.T + mean_terms[None, :]).min(axis=1)

    def nearest(x):
        return np.max(x @ train_x.T, axis=1)

    def energy(x):
        z = head.logits(x)
        m = z.max(axis=1, keepdims=True)
        return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]

    return {"confidence": lambda x: softmax(head.logits(x)).max(axis=1), "energy": energy,
            "mahalanobis": mahalanobis, "nearest_example": nearest}


def _decide(head, score, x, threshold):
    predicted = head.labels[head.logits(x).argmax(axis=1)].astype(object)
    predicted[score(x) < threshold] = "declined"
    predicted[np.isin(predicted, DECLINES)] = "declined"
    return predicted


def _figures(predicted_test, gold, unknown_predicted, unknown_kinds) -> dict:
    declined = unknown_predicted == "declined"
    kinds = np.array(unknown_kinds)
    return {"in_scope_accuracy": round(float(np.mean(predicted_test == np.array(gold))), 4),
            "in_domain_unknown_recall": round(float(declined[kinds == "banking_unknown"].mean()), 4),
            "out_of_domain_recall": round(float(declined[kinds == "out_of_domain"].mean()), 4)}


def _tuned_threshold(head, score, xv, yv, xu):
    candidates = np.quantile(np.concatenate([score(xv), score(xu)]), np.linspace(0, 0.6, 121))
    best = None
    for t in candidates:
        pv, pu = _decide(head, score, xv, t), _decide(head, score, xu, t)
        utility = (np.sum(pv == np.array(yv)) + np.sum(pu == "declined")
                   - np.sum((pv != np.array(yv)) & (pv != "declined")) - np.sum(pu != "declined"))
        if best is None or utility > best[0]:
            best = (utility, float(t))
    return best[1]


def side_by_side(threads: int) -> dict:
    from shared.evaluation.threshold import choose_threshold
    from shared.export.features import cached_base_features
    from shared.inference.features import FeatureEncoder

    started = time.perf_counter()
    train, validation, declines, test, tune, unknown_test = _data()
    encoder = FeatureEncoder(cached_base_features("minilm-l6"), precision="int8", threads=threads, max_length=48)
    x, xv, xd, xt, xu, xut = (encoder.encode(d.texts, progress=True) for d in
                              (train, validation, declines, test, tune, unknown_test))
    head = _Head(x, train.labels, xv, validation.labels)
    out = {}
    for name, score in _scores(head, x, train.labels).items():
        t = _tuned_threshold(head, score, xv, validation.labels, xu)
        out[name] = {"threshold": round(t, 4), **_figures(_decide(head, score, xt, t), test.labels,
                                                          _decide(head, score, xut, t), unknown_test.labels)}
        logger.info("method %s: %s", name, out[name])
    richer = _Head(np.vstack([x, xd]), train.labels + declines.labels, xv, validation.labels)
    probs = softmax(richer.logits(xv))
    confidence = lambda z: softmax(richer.logits(z)).max(axis=1)  # noqa: E731
    t = choose_threshold(probs.max(axis=1), richer.labels[probs.argmax(axis=1)] == np.array(validation.labels),
                         wrong_cost=0.5).threshold
    out["decline_intents"] = {"threshold": t, **_figures(_decide(richer, confidence, xt, t), test.labels,
                                                         _decide(richer, confidence, xut, t), unknown_test.labels)}
    logger.info("method decline_intents: %s", out["decline_intents"])
    return {"features": "frozen all-MiniLM-L6-v2, int8, unit length (the probe's)", "threads": threads,
            "seconds": round(time.perf_counter() - started, 1), **out}


def teach_side_by_side(version, threads: int) -> dict:
    """The five new intents taught to ``version`` two ways, judged on the same features: the
    nearest-example vote (``shared.teaching``, what the bot does) and a refit of the whole head
    (the device's anchored L-BFGS on memory + taught examples, ``shared.device.fit``)."""
    import tempfile
    from pathlib import Path

    import yaml

    from bench.common import ROOT
    from chatbot.banking77 import load_banking77
    from chatbot.intents import TEACH_MEMORY, load_intent_data, unknown_requests
    from shared.device.fit import class_weights, refit_head
    from shared.inference.features import FeatureEncoder
    from shared.model_dir import ModelInfo
    from shared.teaching import TaughtHead, feature_graphs, memory_texts, trained_head

    new = yaml.safe_load((ROOT / "data/chatbot/new_intents.yml").read_text(encoding="utf-8"))["intents"]
    info = ModelInfo.load(version.folder)
    with tempfile.TemporaryDirectory() as tmp:
        graphs = feature_graphs(version.folder, info, Path(tmp))
        encoder = FeatureEncoder(graphs, precision="int8", threads=threads, max_length=info.max_length)
        texts, names = memory_texts(load_intent_data()["train"], info.labels, TEACH_MEMORY)
        encode = lambda items: unit_rows(encoder.encode(items))  # noqa: E731
        memory, taught = encode(texts), encode([t for v in new.values() for t in v["examples"]])
        test, unknown = load_banking77()["test"], unknown_requests("test")
        x_test, x_unknown = encode(test.texts), encode(unknown.texts)
        probes = {n: encode(v["probes"]) for n, v in new.items()}
    labels = list(info.labels) + list(new)
    index = {label: i for i, label in enumerate(labels)}
    ids = np.array([index[n] for n in names] + [index[n] for n, v in new.items() for _ in v["examples"]])
    base = trained_head(version.folder, info)
    vote = TaughtHead(base.weight, base.bias, np.vstack([memory, taught]), ids,
                      np.arange(len(info.labels), len(labels)))
    weights = class_weights(ids, len(labels))
    weights[len(names):] *= 2.0  # the device's TAUGHT_WEIGHT
    start_w = np.vstack([base.weight, np.zeros((len(new), base.weight.shape[1]), np.float32)])
    start_b = np.concatenate([base.bias, np.full(len(new), float(np.median(base.bias)), np.float32)])
    w, b = refit_head(np.vstack([memory, taught]), ids, weights, start_w, start_b, 1e-2)
    ways = {"nearest_example_vote": lambda x: vote.logits(x, info.temperature), "head_refit": lambda x: x @ w.T + b}
    out = {"version": version.id, "intents": list(new), "examples_per_intent": 10, "probes_per_intent": 3}
    for name, logits in ways.items():
        def decide(x):
            probs = softmax(logits(x) / info.temperature)
            found = np.array(labels, dtype=object)[probs.argmax(axis=1)]
            found[probs.max(axis=1) < (info.confidence_threshold or 0)] = "declined"
            found[np.isin(found, DECLINES)] = "declined"
            return found
        out[name] = {"new_intent_probes_right": int(sum((decide(p) == n).sum() for n, p in probes.items())),
                     **_figures(decide(x_test), test.labels, decide(x_unknown), unknown.labels)}
    before = TaughtHead(base.weight, base.bias, memory, ids[:len(names)], np.zeros(0, np.int64))
    out["before"] = _figures(_label_or_declined(before, x_test, info), test.labels,
                             _label_or_declined(before, x_unknown, info), unknown.labels)
    return out


def _label_or_declined(head, x, info):
    probs = softmax(head.logits(x, info.temperature)[:, :len(head.bias)] / info.temperature)
    found = np.array(info.labels, dtype=object)[probs.argmax(axis=1)]
    found[probs.max(axis=1) < (info.confidence_threshold or 0)] = "declined"
    found[np.isin(found, DECLINES)] = "declined"
    return found

