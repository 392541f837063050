"""The test: is this leak (in part) data served to this actor, or do its marks match by chance?

For a candidate, each unit either matches its mark or not; for an actor the data was not served
to, unit i matches with chance p_i, independently. If a share pi of the leak came from the
candidate, a unit matches with probability pi + (1 - pi) p_i. The likelihood ratio of that
against chance, averaged over a fixed grid of shares (a mixture, which keeps it a likelihood
ratio: its expectation under chance is 1), is the evidence; by Ville's inequality it exceeds
1/beta under chance with probability at most beta. Naming a candidate only when its ratio exceeds
candidates/alpha therefore names a wrong actor with probability at most alpha over all
candidates together (a Bonferroni bound): with no true source, no actor is named.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

SHARES = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 0.9, 1.0)
DEFAULT_ALPHA = 0.01
_INFORMATIVE = 0.5  # a unit that matches by chance more often than this is left out


def log_likelihood_ratio(matched: Sequence[bool], chance: Sequence[float]) -> tuple[float, float]:
    """The mixture log-likelihood ratio (natural log) and the share of the leak best explained."""
    hits = np.asarray(matched, dtype=bool)
    p = np.asarray(chance, dtype=np.float64)
    informative = p <= _INFORMATIVE
    hits, p = hits[informative], p[informative]
    shares = np.asarray(SHARES)[:, None]
    matches = p[hits][None, :]
    with np.errstate(divide="ignore"):
        logs = (np.log(shares + (1.0 - shares) * matches) - np.log(matches)).sum(axis=1)
        misses = int((~hits).sum())
        if misses:
            logs += misses * np.log1p(-shares[:, 0])
    best = int(np.argmax(logs))
    return _log_mean_exp([float(v) for v in logs]), SHARES[best] if logs[best] > 0 else 0.0


def log_likelihood_ratio_read_as(
    matched: Sequence[bool], chance: Sequence[float], readings: Sequence[Sequence[bool]]
) -> tuple[float, float]:
    """The leak read several ways, each a selection of its units (``readings``, chosen from the
    leak alone, never from a candidate's matches): the mean of their ratios, itself a likelihood
    ratio, and the share of the best reading."""
    if not readings:
        return log_likelihood_ratio(matched, chance)
    hits = np.asarray(matched, dtype=bool)
    p = np.asarray(chance, dtype=np.float64)
    found = []
    for reading in readings:
        chosen = np.asarray(reading, dtype=bool)
        found.append(log_likelihood_ratio(hits[chosen].tolist(), p[chosen].tolist()))
    best = max(found, key=lambda item: item[0])
    return _log_mean_exp([log_ratio for log_ratio, _ in found]), best[1]


def combine_keys(log_ratios: Sequence[float]) -> float:
    """One candidate tested under several keys (before and after rotations): the mean of the
    ratios, itself a likelihood ratio."""
    return _log_mean_exp(list(log_ratios))


def threshold(candidates: int, alpha: float = DEFAULT_ALPHA) -> float:
    """The log-likelihood ratio above which a candidate is named."""
    return math.log(max(1, candidates) / alpha)


def _log_mean_exp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:
        return -math.inf
    return top + math.log(sum(math.exp(value - top) for value in values) / len(values))
