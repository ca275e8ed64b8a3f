"""The stages of the pipeline, one module each, registered here in pipeline order.

Each module exposes `STAGE`, a `contract.Stage`; the runner finds them by name in
`STAGE_FUNCTIONS` (a test may swap an entry for a plain (prepare, apply) pair).
"""

from __future__ import annotations

from typing import Any

from enrichment.pipeline.stages import embed, extract, gate, map, tier

STAGE_FUNCTIONS: dict[str, Any] = {
    "extract": extract.STAGE,
    "map": map.STAGE,
    "gate": gate.STAGE,
    "embed": embed.STAGE,
    "tier": tier.STAGE,
}
