"""Weighted reciprocal-rank fusion of channel rankings."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

# k=60 is the constant of Cormack et al. (2009); it damps the head of each list.
RRF_K = 60


def rrf_fuse(
    rankings: dict[str, Sequence[Hashable]],
    weights: dict[str, float],
    k: int = RRF_K,
    groups: Mapping[str, str] | None = None,
) -> list[tuple[Hashable, float]]:
    """Items ordered by sum(weight_c / (k + rank_c)), rank starting at 1. Stable on ties.

    Channels mapped to the same name in `groups` read the same evidence the same way (an
    event and the passages of that event, through one model): an item takes the best of
    their contributions, not their sum, so being found twice by one reader is not counted
    as two readers agreeing."""
    scores: dict[Hashable, float] = {}
    best: dict[tuple[str, Hashable], float] = {}
    for channel, ranked in rankings.items():
        weight = weights.get(channel, 1.0)
        group = groups.get(channel) if groups else None
        for rank, item in enumerate(ranked, start=1):
            contribution = weight / (k + rank)
            if group is not None:
                seen = best.get((group, item), 0.0)
                if contribution <= seen:
                    scores.setdefault(item, 0.0)
                    continue
                best[(group, item)] = contribution
                contribution -= seen
            scores[item] = scores.get(item, 0.0) + contribution
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)
