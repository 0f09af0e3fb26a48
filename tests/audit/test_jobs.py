"""Verification jobs on both databases: the running process's progress reaches the table with
its heartbeat, a process that stops marks its job failed, and a process that was declared gone
stops verifying. The verification itself is a stand-in here that reports progress and waits (the
real one is run through HTTP in ``tests/api/test_verification_jobs.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ledger.audit.jobs import JobStatus, VerificationJob, VerificationJobs, open_job_table
from ledger.audit.service import AuditService
from ledger.audit.verify import Progress, VerifyReport

from .helpers import fill


def halfway(release: asyncio.Event) -> Callable[[Progress], Awaitable[VerifyReport]]:
    """A verification that says it checked 5 of 10 events, then waits for ``release``."""

    async def verify(progress: Progress) -> VerifyReport:
        progress(5, 10)
        await release.wait()
        progress(10, 10)
        return VerifyReport(True, 10, 10, 10, 0, 0, 0, None, None, [], False, True, 0.01)

    return verify


async def until(
    jobs: VerificationJobs, job: VerificationJob, ready: Callable[[VerificationJob], bool]
) -> VerificationJob:
    for _ in range(400):
        seen = await jobs.get(job.id)
        if ready(seen):
            return seen
        await asyncio.sleep(0.01)
    raise AssertionError(f"the job never got there: {seen}")


async def test_progress_and_heartbeat_reach_the_table_and_the_report_ends_it(
    audit: AuditService,
) -> None:
    release = asyncio.Event()
    jobs = VerificationJobs(open_job_table(audit.db), halfway(release), heartbeat=0.02, stale=5)
    other = VerificationJobs(open_job_table(audit.db), halfway(release), heartbeat=0.02, stale=5)
    try:
        job, created = await jobs.start("A0001", "审计员")
        assert created
        running = await until(other, job, lambda j: j.progress.events_checked == 5)
        assert running.status is JobStatus.RUNNING
        assert (running.progress.events_total, running.progress.fraction) == (10, 0.5)
        assert running.started_at is not None
        assert running.finished_at is None
        again, created = await other.start("A0002", "另一审计员")  # another process: that job
        assert (again.id, created, again.requested_by) == (job.id, False, "A0001")
        release.set()
        done = await until(other, job, lambda j: not j.active)
        assert done.status is JobStatus.DONE
        assert done.report is not None
        assert done.report.events_checked == 10
        assert (done.progress.events_checked, done.progress.fraction) == (10, 1.0)
        assert await other.latest() == done
    finally:
        await jobs.close()
        await other.close()


async def test_a_stopping_process_fails_its_job_and_a_process_declared_gone_stops(
    audit: AuditService,
) -> None:
    await fill(audit.store, 2, 2)
    never = asyncio.Event()
    jobs = VerificationJobs(open_job_table(audit.db), halfway(never), heartbeat=0.02, stale=5)
    job, _ = await jobs.start("A0001", "审计员")
    await until(jobs, job, lambda j: j.progress.events_checked == 5)
    await jobs.close()  # the server stops
    reader = VerificationJobs(open_job_table(audit.db), halfway(never), heartbeat=0.02, stale=5)
    try:
        stopped = await reader.get(job.id)
        assert (stopped.status, stopped.error) == (
            JobStatus.FAILED,
            "stopped: the server shut down",
        )

        # A process that beats every 0.3 s, judged by one that takes 0.02 s of silence for
        # death (as if the first one's loop had been held up), finds its row taken from it at
        # its next beat and stops verifying.
        slow = VerificationJobs(open_job_table(audit.db), halfway(never), heartbeat=0.3, stale=0.35)
        judge = VerificationJobs(
            open_job_table(audit.db), halfway(never), heartbeat=0.01, stale=0.02
        )
        try:
            job, _ = await slow.start("A0001", "审计员")
            await asyncio.sleep(0.1)
            gone = await judge.get(job.id)  # its heartbeat is 0.1 s old: too old for judge
            assert gone.status is JobStatus.FAILED
            assert gone.error is not None
            assert "no heartbeat since" in gone.error
            for _ in range(200):  # at its next beat the slow process sees and stops verifying
                if not slow._running:
                    break
                await asyncio.sleep(0.01)
            assert not slow._running
            assert (await judge.get(job.id)).error == gone.error  # nothing overwrote the verdict
        finally:
            await slow.close()
            await judge.close()
    finally:
        await reader.close()
