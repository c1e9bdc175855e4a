"""What must hold after the chaos, read from the database and the emulators' records.

The five counters that must be zero:

- lost: a ticket (a mention the bot received) that never became a job;
- stuck: a job not in a terminal state when the drain ends (running, queued, paused ...);
- duplicate posts: a Slack message posted twice for the same outbox key;
- repeated model requests: a request to the model for job J and step k that arrived after J's
  log already held a committed `model_response` for step k. The one request in flight when its
  worker died (answered by the emulator, never recorded) is allowed by the design and counted
  apart as an in-flight repeat. A request from a worker that is alive but lost its lease while
  stalled is not allowed: it counts here (the agent renews its lease before every request so
  that it learns LeaseLost instead, see docs/architecture.md). "Recorded" is the event's `at`,
  stamped just before its commit, so the count errs towards flagging;
- ledger mismatches: per handoff, a dependency with a `degraded` event that "Could not reach"
  does not name, or a "Could not reach" line naming a dependency that never failed.

Also checked and must be zero: repeated tool calls (a `tool_call` for a tool_use id that already
has a recorded result; a call re-run because its result was never recorded is marked `rerun` and
counted apart), seq gaps (every job's events are exactly 1..n and the job row's
count agrees), tickets that produced more than one job, and handoffs recorded but never posted
to the ticket's Slack thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bot.model import Event, Job
from bot.store import Store
from chaos_lib.world import ModelCall
from emulators.slack import SlackEmulator

BLOCKED_PREFIX = "blocked by policy:"


@dataclass
class Findings:
    tickets: int = 0
    jobs: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    lost: int = 0
    stuck: int = 0
    duplicate_posts: int = 0
    repeated_model_requests: int = 0
    in_flight_repeats: int = 0
    repeated_tool_calls: int = 0
    tool_reruns: int = 0
    ledger_mismatches: int = 0
    seq_gaps: int = 0
    duplicate_jobs: int = 0
    undelivered_handoffs: int = 0
    model_requests: int = 0
    resumed_jobs: int = 0
    degraded_events: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def must_be_zero(self) -> dict[str, int]:
        return {
            "lost": self.lost,
            "stuck": self.stuck,
            "duplicate posts": self.duplicate_posts,
            "repeated model requests": self.repeated_model_requests,
            "ledger mismatches": self.ledger_mismatches,
            "repeated tool calls": self.repeated_tool_calls,
            "seq gaps": self.seq_gaps,
            "duplicate jobs": self.duplicate_jobs,
            "undelivered handoffs": self.undelivered_handoffs,
        }

    @property
    def ok(self) -> bool:
        return not any(self.must_be_zero.values())


def check(
    store: Store,
    slack: SlackEmulator,
    model_log: list[ModelCall],
    tickets: list[tuple[str, str]],
) -> Findings:
    """`tickets`: (channel, ts) of every mention sent to the bot."""
    found = Findings(tickets=len(tickets))
    jobs: list[Job] = []
    for channel, ts in tickets:
        matched = store.find_by_thread(channel, ts)
        if not matched:
            found.lost += 1
            found.details.append(f"lost: ticket {channel}/{ts} has no job")
        if len(matched) > 1:
            found.duplicate_jobs += len(matched) - 1
            found.details.append(f"duplicate jobs for {channel}/{ts}: {[j.id for j in matched]}")
        jobs.extend(matched)
    found.jobs = len(jobs)
    responses: dict[tuple[str, int], float] = {}
    for job in jobs:
        status = store.get(job.id).status
        found.by_status[status.value] = found.by_status.get(status.value, 0) + 1
        if not status.terminal:
            found.stuck += 1
            found.details.append(f"stuck: job {job.id} is {status.value}")
        events = store.events(job.id)
        _check_seq(found, store.get(job.id), events)
        check_ledger(found, job.id, events)
        check_tools(found, job.id, events)
        found.resumed_jobs += any(e.kind == "resumed" for e in events)
        for e in events:
            if e.kind == "model_response":
                responses.setdefault((job.id, int(e.data.get("step", 0))), e.at.timestamp())
    check_model(found, model_log, responses, {j.id for j in jobs})
    with_handoff = [j.id for j in jobs if store.events(j.id, kinds=["handoff"])]
    posted = dict(slack.posts_by_key)
    for job_id in with_handoff:
        if not posted.get(f"{job_id}:handoff"):
            found.undelivered_handoffs += 1
            found.details.append(f"undelivered: job {job_id} has a handoff never posted to Slack")
    dupes = slack.duplicates()
    found.duplicate_posts = sum(n - 1 for n in dupes.values())
    found.details.extend(f"duplicate post: {key} x{n}" for key, n in dupes.items())
    return found


def _check_seq(found: Findings, job: Job, events: list[Event]) -> None:
    seqs = [e.seq for e in events]
    if seqs != list(range(1, len(seqs) + 1)) or job.event_count != len(seqs):
        found.seq_gaps += 1
        found.details.append(
            f"seq gap: job {job.id} has seqs {_ranges(seqs)}, event_count {job.event_count}"
        )


def check_ledger(found: Findings, job_id: str, events: list[Event]) -> None:
    failed = {str(e.data.get("dependency")) for e in events if e.kind == "degraded"}
    found.degraded_events += sum(1 for e in events if e.kind == "degraded")
    handoffs = [e for e in events if e.kind == "handoff"]
    if not handoffs:
        return
    lines = [
        str(line)
        for line in handoffs[-1].data.get("could_not_reach") or []
        if not str(line).lower().startswith(BLOCKED_PREFIX)
    ]

    def names(line: str, dep: str) -> bool:
        return line == dep or line.startswith(f"{dep}: ")

    missing = sorted(d for d in failed if not any(names(line, d) for line in lines))
    extra = [line for line in lines if not any(names(line, d) for d in failed)]
    if missing or extra:
        found.ledger_mismatches += len(missing) + len(extra)
        found.details.append(
            f"ledger: job {job_id} failed {sorted(failed)}; could_not_reach lacks {missing}, "
            f"names never-failed {extra}"
        )


def check_tools(found: Findings, job_id: str, events: list[Event]) -> None:
    done: set[str] = set()
    for e in events:
        use = str(e.data.get("tool_use_id"))
        if e.kind in ("tool_result", "tool_blocked"):
            done.add(use)
        elif e.kind == "tool_call" and use in done:
            found.repeated_tool_calls += 1
            found.details.append(
                f"repeated tool call: job {job_id} seq {e.seq} runs {use} again after its result"
            )
        elif e.kind == "tool_call" and e.data.get("rerun"):
            found.tool_reruns += 1


def check_model(
    found: Findings,
    log: list[ModelCall],
    responses: dict[tuple[str, int], float],
    job_ids: set[str],
) -> None:
    answered: dict[tuple[str, int], float] = defaultdict(lambda: float("inf"))
    for call in log:
        if call.job not in job_ids:
            continue
        found.model_requests += 1
        key = (call.job, call.step)
        recorded = responses.get(key)
        if recorded is not None and recorded < call.arrived:
            found.repeated_model_requests += 1
            found.details.append(
                f"repeated model request: job {call.job} step {call.step} asked again "
                f"{call.arrived - recorded:.3f} s after its response was recorded"
            )
        elif answered[key] < call.arrived:
            found.in_flight_repeats += 1
        if call.status == 200 and call.answered is not None:
            answered[key] = min(answered[key], call.answered)


def _ranges(seqs: list[int]) -> str:
    if not seqs:
        return "none"
    out: list[str] = []
    start = prev = seqs[0]
    for s in seqs[1:]:
        if s != prev + 1:
            out.append(f"{start}..{prev}")
            start = s
        prev = s
    out.append(f"{start}..{prev}")
    return ",".join(out)


def as_dict(found: Findings) -> dict[str, Any]:
    return {
        "tickets": found.tickets,
        "jobs": found.jobs,
        "by_status": found.by_status,
        "lost": found.lost,
        "stuck": found.stuck,
        "duplicate_posts": found.duplicate_posts,
        "repeated_model_requests": found.repeated_model_requests,
        "in_flight_repeats": found.in_flight_repeats,
        "repeated_tool_calls": found.repeated_tool_calls,
        "tool_reruns": found.tool_reruns,
        "ledger_mismatches": found.ledger_mismatches,
        "seq_gaps": found.seq_gaps,
        "duplicate_jobs": found.duplicate_jobs,
        "undelivered_handoffs": found.undelivered_handoffs,
        "model_requests": found.model_requests,
        "resumed_jobs": found.resumed_jobs,
        "degraded_events": found.degraded_events,
        "details": found.details,
    }
