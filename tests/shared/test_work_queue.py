"""The core's bounded work queue behind every adapter's ack."""

from __future__ import annotations

import asyncio

from shared.inbound import Admission, WorkQueue


async def test_jobs_run_on_a_bounded_pool() -> None:
    queue = WorkQueue(workers=2, bound=10)
    running, peak, done = 0, 0, []
    gate = asyncio.Event()

    def job(n: int):
        async def run() -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await gate.wait()
            running -= 1
            done.append(n)

        return run

    assert all(queue.submit(job(n)) is Admission.ACCEPTED for n in range(5))
    await asyncio.sleep(0.05)
    assert running == 2  # two workers, however many jobs wait
    gate.set()
    await queue.close(grace=2)
    assert sorted(done) == [0, 1, 2, 3, 4] and peak == 2


async def test_past_its_bound_the_queue_says_busy_and_takes_nothing() -> None:
    queue = WorkQueue(workers=1, bound=2)
    gate = asyncio.Event()
    ran: list[int] = []

    def job(n: int):
        async def run() -> None:
            await gate.wait()
            ran.append(n)

        return run

    assert queue.submit(job(0)) is Admission.ACCEPTED
    await asyncio.sleep(0.01)  # the worker takes job 0; two more fit in the queue
    assert [queue.submit(job(n)) for n in (1, 2, 3)] == [
        Admission.ACCEPTED,
        Admission.ACCEPTED,
        Admission.BUSY,
    ]
    gate.set()
    await queue.close(grace=2)
    assert ran == [0, 1, 2]  # the busy one never ran


async def test_the_same_key_is_refused_while_queued_or_running_then_taken_again() -> None:
    queue = WorkQueue(workers=1, bound=10)
    gate = asyncio.Event()
    ran: list[str] = []

    def job(name: str):
        async def run() -> None:
            await gate.wait()
            ran.append(name)

        return run

    key = ("slack", "T1", "U1", "/register workshop")
    assert queue.submit(job("first"), key=key) is Admission.ACCEPTED
    assert queue.submit(job("double click"), key=key) is Admission.DUPLICATE
    assert queue.submit(job("other"), key=("slack", "T1", "U2", "/register workshop")) is Admission.ACCEPTED
    gate.set()
    await asyncio.sleep(0.05)
    assert queue.submit(job("later"), key=key) is Admission.ACCEPTED  # typed again, answered again
    await queue.close(grace=2)
    assert ran == ["first", "other", "later"]


async def test_a_failing_job_is_logged_and_the_pool_lives_on(caplog) -> None:
    queue = WorkQueue(workers=1, bound=10)
    ran: list[str] = []

    async def broken() -> None:
        raise RuntimeError("boom")

    async def fine() -> None:
        ran.append("fine")

    queue.submit(broken)
    queue.submit(fine)
    await queue.close(grace=2)
    assert ran == ["fine"] and "queued command failed" in caplog.text


async def test_a_closed_queue_takes_nothing() -> None:
    queue = WorkQueue(workers=1, bound=10)
    await queue.close(grace=0.1)

    async def job() -> None:
        raise AssertionError("must not run")

    assert queue.submit(job) is Admission.BUSY
