"""Fitting the transfer ranker's two stages (torch for the two-tower, scikit-learn for the scorer).

:func:`fit_two_tower` trains :class:`retrieval.transfer_model.TwoTower` with a sampled softmax: each step
scores the batch's positives plus a few thousand uniformly drawn catalogue items (uniform sampling only
shifts every logit by the same constant, so the learned biases stay comparable), with each turn's
context items and its other rec items masked. :func:`fit_scorer` fits the gradient-boosted second stage.
Both are deterministic for a seed on one machine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.itemstore import ItemTable
from retrieval.titlekey import film_key
from retrieval.transfer_model import N_QUALITY, TwoTower, quality_matrix

log = logging.getLogger(__name__)


def fit_two_tower(data: Sequence[Any], table: ItemTable, *, epochs: int = 6, seed: int = 0, film_dim: int = 32,
                  batch: int = 512, negatives: int = 1500, lr: float = 5e-3, decay: float = 1e-4) -> TwoTower:
    """Fit on ``data`` (objects with ``parts``, ``query`` and ``truth`` as in ``eval.train_transfer``)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, dim = table.vectors.shape
    pos = table.pos
    keys = [film_key(it.title, it.year) for it in table.items]

    examples: list[tuple[int, int]] = []
    vocab: dict[int, None] = {}
    for j, t in enumerate(data):
        for p in (*t.parts.seeds, *(pos[i] for i in t.truth if i in pos)):
            if keys[p] is not None:
                vocab.setdefault(p, None)
        examples += [(j, pos[i]) for i in sorted(t.truth) if i in pos]
    film_pos = sorted(vocab)
    film_idx = np.full(n, -1, dtype=np.int64)
    film_idx[film_pos] = np.arange(len(film_pos))
    F = len(film_pos)

    T = torch.from_numpy(np.stack([t.parts.text_vec for t in data]).astype(np.float32))
    S = torch.from_numpy(np.stack([t.parts.seed_vec for t in data]).astype(np.float32))
    L = torch.from_numpy(np.stack([t.parts.liked_vec for t in data]).astype(np.float32))
    seed_films = torch.full((len(data), 20), F, dtype=torch.long)  # F = padding row (zeros)
    for j, t in enumerate(data):
        fs = [int(film_idx[s]) for s in t.parts.seeds if film_idx[s] >= 0][-20:]
        if fs:
            seed_films[j, : len(fs)] = torch.tensor(fs)
    blocked = []
    for t in data:
        q = t.query
        b = {pos[i] for i in (*q.exclude_ids, *q.disliked_ids, *q.liked_ids, *t.turn.context_ids, *t.truth) if i in pos}
        blocked.append(b)

    E = torch.from_numpy(np.array(table.vectors, dtype=np.float32))  # a writable copy
    Q = torch.from_numpy(quality_matrix(table))
    item_film = torch.from_numpy(np.where(film_idx >= 0, film_idx, F))
    eye = torch.eye(dim)
    w_text = torch.nn.Parameter(eye * 8.0)
    w_seed = torch.nn.Parameter(eye * 4.0)
    w_liked = torch.nn.Parameter(eye * 4.0)
    film_vecs = torch.nn.Parameter(torch.randn(F, film_dim) * 0.01)
    film_bias = torch.nn.Parameter(torch.zeros(F))
    quality_w = torch.nn.Parameter(torch.zeros(N_QUALITY))
    opt = torch.optim.Adam([
        {"params": [w_text, w_seed, w_liked], "weight_decay": 0.0},
        {"params": [film_vecs, film_bias, quality_w], "weight_decay": decay},
    ], lr=lr)
    zero_row = torch.zeros(1, film_dim)

    ex = np.array(examples, dtype=np.int64)
    for epoch in range(epochs):
        order = rng.permutation(len(ex))
        total = 0.0
        for start in range(0, len(ex), batch):
            b = ex[order[start: start + batch]]
            turns_b, pos_b = b[:, 0], b[:, 1]
            cand = np.unique(np.concatenate([pos_b, rng.integers(0, n, negatives)]))
            col = {int(p): c for c, p in enumerate(cand)}
            mask = np.zeros((len(b), len(cand)), dtype=bool)
            for r, (tj, pp) in enumerate(b):
                for p in blocked[tj]:
                    c = col.get(p)
                    if c is not None and p != pp:
                        mask[r, c] = True
            target = torch.tensor([col[int(p)] for p in pos_b])
            tb = torch.from_numpy(turns_b)
            q = T[tb] @ w_text.T + S[tb] @ w_seed.T + L[tb] @ w_liked.T
            cand_t = torch.from_numpy(cand)
            content = q @ E[cand_t].T
            V = torch.cat([film_vecs, zero_row])
            Bv = torch.cat([film_bias, torch.zeros(1)])
            sf = seed_films[tb]
            has = (sf < F).float()
            u = (V[sf] * has[..., None]).sum(1) / has.sum(1, keepdim=True).clamp(min=1.0)
            film = u @ V[item_film[cand_t]].T
            prior = Bv[item_film[cand_t]] + Q[cand_t] @ quality_w
            logits = content + film + prior[None, :]
            logits = logits.masked_fill(torch.from_numpy(mask), float("-inf"))
            loss = torch.nn.functional.cross_entropy(logits, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
        log.info("two-tower epoch %d: loss %.3f", epoch + 1, total / len(ex))

    with torch.no_grad():
        return TwoTower(
            w_text=w_text.numpy().copy(), w_seed=w_seed.numpy().copy(), w_liked=w_liked.numpy().copy(),
            film_keys=[keys[p] for p in film_pos], film_vecs=film_vecs.numpy().copy(),
            film_bias=film_bias.numpy().copy(), quality_w=quality_w.numpy().copy(),
        )


def fit_scorer(rows: Sequence[tuple[list[str], np.ndarray, np.ndarray]], *, seed: int = 0,
               negative_rate: float = 0.3, max_iter: int = 150) -> Any:
    """The gradient-boosted second stage on (ids, X, y) rows; negatives subsampled (order unchanged)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)
    Xs, ys = [], []
    for _, X, y in rows:
        keep = (y == 1) | (rng.random(len(y)) < negative_rate)
        Xs.append(X[keep])
        ys.append(y[keep])
    X = np.vstack(Xs)
    y = np.concatenate(ys)
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("training labels must contain both positives and negatives")
    empty = np.all(np.isnan(X), axis=0)
    if empty.any():
        X = X.copy()
        X[:, empty] = 0.0
    model = HistGradientBoostingClassifier(
        learning_rate=0.1, max_iter=max_iter, max_leaf_nodes=4, min_samples_leaf=int(np.clip(len(y) // 100, 5, 1000)),
        l2_regularization=1.0, early_stopping=False, random_state=seed,
    )
    model.fit(X, y)
    return model


__all__ = ["fit_scorer", "fit_two_tower"]
