"""The benchmark's wait for enrichment is bounded by progress, not by a deadline: it waits as
long as events keep finishing and gives up (keeping the ingest) once none has for the stall
bound. A fake clock stands in for time, so nothing here sleeps or is timed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bench import locomo
from bench.locomo import EnrichmentStalled, wait_enriched


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds


class SlowServer:
    """Events finish one per `every` seconds of the fake clock, in ingest order; `stuck_after`
    finished events, nothing more finishes."""

    def __init__(self, clock: FakeClock, order: list[str], every: float, stuck_after: int) -> None:
        self.clock, self.order, self.every, self.stuck_after = clock, order, every, stuck_after

    def finished(self) -> int:
        return min(int(self.clock.now // self.every), self.stuck_after)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        event_id = path.rsplit("/", 1)[1]
        done = self.order.index(event_id) < self.finished()
        return 200, {"status": "enriched" if done else "pending"}, 1.0


def _mapping(n: int) -> dict[str, dict[str, str]]:
    return {"user": {f"e{i}": f"D1:{i}" for i in range(n)}}


def test_slow_progress_is_waited_out_past_any_fixed_deadline() -> None:
    clock = FakeClock()
    mapping = _mapping(50)
    # One event per 100 s: 5,000 s in all, far past the stall bound of 300 s.
    server = SlowServer(clock, list(mapping["user"]), every=100, stuck_after=50)
    waited = wait_enriched(
        server,  # type: ignore[arg-type]
        mapping,
        stall_s=300,
        clock=clock,
        pause=clock.pause,
    )
    assert waited >= 5000


def test_no_progress_for_the_stall_bound_stops_the_wait() -> None:
    clock = FakeClock()
    mapping = _mapping(50)
    server = SlowServer(clock, list(mapping["user"]), every=10, stuck_after=20)
    with pytest.raises(EnrichmentStalled, match="30 left"):
        wait_enriched(
            server,  # type: ignore[arg-type]
            mapping,
            stall_s=300,
            clock=clock,
            pause=clock.pause,
        )
    # It gave up one stall bound after the last event finished (at 200 s), not before.
    assert 500 <= clock.now <= 510


def test_counting_in_the_database_follows_the_same_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    left = iter([40, 40, 30, 30, 30, 30, 30, 30, 30, 30])
    monkeypatch.setattr(locomo, "pending_in_db", lambda url, ids: lambda: next(left))
    monkeypatch.setattr(locomo, "stale_episodes_in_db", lambda url, ids: lambda: 0)
    with pytest.raises(EnrichmentStalled, match="30 left"):
        wait_enriched(
            None,  # type: ignore[arg-type]
            _mapping(40),
            stall_s=20,
            database_url="postgresql://unused",
            clock=clock,
            pause=clock.pause,
        )


def test_stale_episode_vectors_are_waited_for_then_given_up_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events done, episode vectors still stale: wait while beat's sweep embeds them; if it
    stops moving (no beat), recall anyway rather than fail the run."""
    clock = FakeClock()
    stale = iter([9, 5, 5, 2, *[2] * 10])
    polled: list[float] = []

    def count() -> int:
        polled.append(clock.now)
        return next(stale)

    monkeypatch.setattr(locomo, "pending_in_db", lambda url, ids: lambda: 0)
    monkeypatch.setattr(locomo, "stale_episodes_in_db", lambda url, ids: count)
    waited = wait_enriched(
        None,  # type: ignore[arg-type]
        _mapping(4),
        stall_s=30,
        database_url="postgresql://unused",
        clock=clock,
        pause=clock.pause,
    )
    # Polled past the last drop (at 10 s) for the stall bound, then gave up without raising.
    assert waited > 40
    assert len(polled) >= 10


def test_parallel_recall_clients_score_the_same_and_skip_unasked_categories() -> None:
    from bench.locomo import run_recalls
    from bench.locomo_data import Conversation, Question, Turn
    from bench.locomo_metrics import Scoreboard

    turns = [
        Turn(
            dia_id=f"D1:{i}",
            session=1,
            speaker="A",
            text="t",
            blip_caption=None,
            time=datetime(2023, 5, 8, 13, i, tzinfo=UTC),
            content="A: t",
        )
        for i in range(4)
    ]
    questions = [
        Question(question=f"q{i}", answer="a", evidence=[f"D1:{i}"], category=1 + i % 5)
        for i in range(10)
    ]
    conv = Conversation(
        sample_id="c", speaker_a="A", speaker_b="B", turns=turns, questions=questions
    )
    mapping = {"locomo-c": {f"e{i}": f"D1:{i}" for i in range(4)}}

    class Server:
        def call_timed(self, method: str, path: str, body: Any) -> tuple[Any, ...]:
            cited = ["e1", "e3"] if body["token_budget"] == 500 else ["e0", "e1", "e2", "e3"]
            reply = {"citations": cited, "system_context": "", "token_estimate": 1}
            return 200, reply, 1.0, locomo.ServerTiming(app_ms=1.0, cache="miss")

    boards = []
    for clients in (1, 4):
        board = Scoreboard()
        passed = run_recalls(
            Server(),  # type: ignore[arg-type]
            [conv],
            mapping,
            [500, 2000],
            board,
            categories=(1, 2, 3, 4),
            clients=clients,
        )
        assert sum(passed.caches.values()) == 2 * 8  # category 5 not asked
        boards.append([board.summary("claiv", b)["evidence_recall"] for b in (500, 2000)])
    assert boards[0] == boards[1]
    assert boards[0][1] > boards[0][0]
