"""``bench/ingest_load.py``: CPU time per event, the figure that identical runs on a shared
machine agree on better than events/s."""

from __future__ import annotations

import os
import time

import pytest
from bench import batch_path_cost, planned_once, single_path_cost
from bench.ingest_load import CpuMeter, Phase, first_events


def test_cpu_per_event_is_the_phase_cpu_seconds_over_its_events() -> None:
    phase = Phase("batches", events=1000)
    phase.cpu = {
        "server": 2.0,
        "postgres": 0.5,
        "client": 0.25,
        "busy_share": 0.8123,
        "steal_share": 0.0149,
    }
    row = phase.row()
    assert row["cpu_us_per_event"] == {"server": 2000.0, "postgres": 500.0, "client": 250.0}
    assert (row["machine_busy_share"], row["steal_share"]) == (0.812, 0.015)
    assert "cpu_us_per_event" not in Phase("no events").row()


def test_the_meter_counts_cpu_spent_by_the_server_process_tree() -> None:
    meter = CpuMeter(os.getpid())  # this process stands in for the server (and the clients)
    meter.start()
    spent = time.process_time()
    while time.process_time() - spent < 0.3:  # burn 0.3 s of CPU
        pass
    cpu = meter.stop()
    # the kernel counts CPU time in ticks (10 ms here): allow a few
    assert cpu["server"] >= 0.25 and cpu["client"] >= 0.25
    assert cpu["postgres"] >= 0.0
    assert 0.0 < cpu["busy_share"] <= 1.0 and 0.0 <= cpu["steal_share"] <= 1.0


def test_the_batch_path_cost_bench_refuses_counts_below_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv in (["--events", "0"], ["--batch-size", "0"], ["--warm", "-1"]):
        with pytest.raises(SystemExit) as stop:
            batch_path_cost.main(argv)
        assert stop.value.code == 2
        assert f"{argv[0]}: must be at least" in capsys.readouterr().err


def test_the_peer_gets_the_first_events_each_learner_earliest_first() -> None:
    per = {"a": [{"k": 1}, {"k": 2}, {"k": 3}], "b": [{"k": 4}], "c": [{"k": 5}, {"k": 6}]}
    assert first_events(per, 4) == {"a": [{"k": 1}, {"k": 2}], "b": [{"k": 4}], "c": [{"k": 5}]}
    assert first_events(per, 1) == {"a": [{"k": 1}]}
    assert first_events(per, 99) == per and first_events(per, None) is per


def test_the_single_path_cost_bench_refuses_bad_counts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, says in (
        (["--events", "0"], "--events: must be at least 1"),
        (["--concurrency", "0"], "--concurrency: must be at least 1"),
        (["--warm", "-1"], "--warm: must be at least 0"),
        (["--xapi-share", "1.5"], "--xapi-share: must be between 0 and 1"),
    ):
        with pytest.raises(SystemExit) as stop:
            single_path_cost.main(argv)
        assert stop.value.code == 2
        assert says in capsys.readouterr().err


def test_the_planned_once_bench_refuses_counts_below_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("--events", "--calls", "--rounds", "--keys"):
        with pytest.raises(SystemExit) as stop:
            planned_once.main([name, "0"])
        assert stop.value.code == 2
        assert f"{name}: must be at least 1" in capsys.readouterr().err
