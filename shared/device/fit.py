"""Refitting the task head on the device, with numpy alone.

The encoder stays frozen; the head is a multinomial logistic regression on its features. A refit
starts from the current head and is pulled back towards it: the loss is the (class-weighted)
cross-entropy on the memory, the examples learned before and the new ones, plus
``anchor / 2 * |W - W_current|^2`` (for a new label, ``W_current`` is zero). The old labels'
boundaries therefore move only as far as the data asks, which is what keeps a device that learns
a new intent from forgetting the old ones. L-BFGS (Nocedal and Wright, algorithm 7.4) with a
backtracking line search; a few dozen iterations from the warm start.
"""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def class_weights(label_ids: np.ndarray, n_labels: int, floor: float = 0.0) -> np.ndarray:
    """Per-example weights n / (k * count): each label weighs the same, however few its examples."""
    counts = np.bincount(label_ids, minlength=n_labels).astype(np.float64)
    weights = len(label_ids) / (max(1, np.count_nonzero(counts)) * np.maximum(counts, 1))
    return np.maximum(weights[label_ids], floor)


class _Objective:
    """Weighted cross-entropy plus the pull towards the anchor weights, and its gradient."""

    def __init__(self, features, label_ids, weights, anchor_weight, anchor: float):
        self.x = features.astype(np.float64)
        self.y = label_ids
        self.w = weights / weights.sum()
        self.anchor_weight = anchor_weight.astype(np.float64)
        self.anchor = np.broadcast_to(np.asarray(anchor, np.float64), (anchor_weight.shape[0],))[:, None]
        self.k, self.d = anchor_weight.shape

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        weight, bias = theta[: self.k * self.d].reshape(self.k, self.d), theta[self.k * self.d:]
        logits = self.x @ weight.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        picked = logits[np.arange(len(self.y)), self.y]
        drift = weight - self.anchor_weight
        loss = float(np.dot(self.w, log_norm - picked) + 0.5 * np.sum(self.anchor * drift * drift))
        residual = np.exp(logits - log_norm[:, None])
        residual[np.arange(len(self.y)), self.y] -= 1.0
        residual *= self.w[:, None]
        grad_weight = residual.T @ self.x + self.anchor * drift
        return loss, np.concatenate([grad_weight.ravel(), residual.sum(axis=0)])


def lbfgs(objective, theta: np.ndarray, *, max_iter: int = 100, memory: int = 10, tol: float = 1e-6) -> np.ndarray:
    """Minimise ``objective(theta) -> (loss, gradient)`` from ``theta``."""
    loss, grad = objective(theta)
    steps, changes = [], []
    for _ in range(max_iter):
        if np.linalg.norm(grad, np.inf) < tol:
            break
        direction = -grad
        alphas = []
        for s, y in reversed(list(zip(steps, changes))):
            alpha = np.dot(s, direction) / np.dot(y, s)
            alphas.append(alpha)
            direction -= alpha * y
        if steps:
            direction *= np.dot(steps[-1], changes[-1]) / np.dot(changes[-1], changes[-1])
        for (s, y), alpha in zip(zip(steps, changes), reversed(alphas)):
            direction += s * (alpha - np.dot(y, direction) / np.dot(y, s))
        step, slope = 1.0, float(np.dot(grad, direction))
        if slope >= 0:  # not a descent direction: restart from the gradient
            steps, changes, direction, slope = [], [], -grad, -float(np.dot(grad, grad))
        while True:
            candidate = theta + step * direction
            new_loss, new_grad = objective(candidate)
            if new_loss <= loss + 1e-4 * step * slope or step < 1e-10:
                break
            step *= 0.5
        s, y = candidate - theta, new_grad - grad
        if np.dot(s, y) > 1e-12:
            steps.append(s)
            changes.append(y)
            if len(steps) > memory:
                steps.pop(0)
                changes.pop(0)
        converged = abs(loss - new_loss) <= tol * max(1.0, abs(loss))
        theta, loss, grad = candidate, new_loss, new_grad
        if converged:
            break
    return theta


def refit_head(features: np.ndarray, label_ids: np.ndarray, weights: np.ndarray, start_weight: np.ndarray,
               start_bias: np.ndarray, anchor, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The head (weight, bias) refitted from (``start_weight``, ``start_bias``), anchored to
    ``start_weight``; ``anchor``: one strength, or one per label (a new label: only a light one)."""
    objective = _Objective(features, label_ids, weights, start_weight, anchor)
    theta = np.concatenate([start_weight.astype(np.float64).ravel(), start_bias.astype(np.float64)])
    theta = lbfgs(objective, theta, max_iter=max_iter)
    k, d = start_weight.shape
    return theta[: k * d].reshape(k, d).astype(np.float32), theta[k * d:].astype(np.float32)


def fit_temperature(logits: np.ndarray, label_ids: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood (golden section on log T)."""
    def nll(log_t: float) -> float:
        probs = softmax(logits / np.exp(log_t))
        return float(-np.log(np.clip(probs[np.arange(len(label_ids)), label_ids], 1e-12, 1.0)).mean())

    low, high = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(b)
    return float(np.exp((low + high) / 2))
