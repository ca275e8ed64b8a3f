"""Weighted reciprocal-rank fusion of channel rankings."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

# k=60 is the constant of Cormack et al. (2009); it damps the head of each list.
RRF_K = 60


def rrf_fuse(
    rankings: dict[str, Sequence[Hashable]], weights: dict[str, float], k: int = RRF_K
) -> list[tuple[Hashable, float]]:
    """Items ordered by sum(weight_c / (k + rank_c)), rank starting at 1. Stable on ties."""
    scores: dict[Hashable, float] = {}
    for channel, ranked in rankings.items():
        weight = weights.get(channel, 1.0)
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)
