"""Application logs for the generated sessions: JSON-lines events and combined-format access logs.

Every event belongs to a generated session and its user (sample_data/session_generator.generate_day):
a session starts, views pages, and purchases when the session has a transaction. Each page view
is also a request in the access log, beside static-asset requests and some 404/500s. Times are
written with a time zone offset (some lines in UTC, some in Seoul time), so structuring must
normalise them to UTC to find the session's day.

Also, on purpose: a retried send (one event line twice: same event_id), a double request (one
access-log line twice in a file: two requests), a small share of malformed lines of every kind
the structuring step rejects (truncated JSON, a line that is not JSON, a bad timestamp, an
access-log line that does not match), and one file that arrives a day late. `generate_logs`
returns the files and the truth the tests compare the warehouse with.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import numpy as np

from warehouse_platform.sample_data.session_generator import GeneratorConfig, generate_day

SEOUL = timezone(timedelta(hours=9))
PAGES = ("/", "/products", "/products/1", "/products/2", "/cart", "/search?q=shoes", "/help")
STATIC = ("/static/app.js", "/static/app.css", "/favicon.ico")
AGENTS = ("Mozilla/5.0 (X11; Linux x86_64)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)", "curl/8.5.0")
MALFORMED_KINDS = ("truncated_json", "not_json", "bad_timestamp", "unmatched_access_line")


@dataclass(frozen=True)
class LogFile:
    key: str  # stage key: landing/logs/<source>/day=YYYY-MM-DD/<name>
    data: bytes  # as landed (gzip'd when the name ends in .gz)
    day: date  # the day folder it lands in
    arrives_on: date  # the day it lands: the day after `day` for the late file


@dataclass(frozen=True)
class MalformedLine:
    key: str
    line: int
    kind: str


@dataclass
class LogTruth:
    # (day, event name) -> events (each event once, however often it was sent)
    events: Counter = field(default_factory=Counter)
    # (day, status) -> requests
    requests: Counter = field(default_factory=Counter)
    # By the UTC day of the event's or request's own time (what the analytics models group by;
    # an event of a session late in a day can fall on the next UTC day):
    # UTC day -> the users with an event that day
    active_users: dict = field(default_factory=dict)
    # UTC day -> events (each once)
    events_by_utc_day: Counter = field(default_factory=Counter)
    # (UTC day, status) -> requests
    requests_by_utc_day: Counter = field(default_factory=Counter)
    malformed: list[MalformedLine] = field(default_factory=list)


@dataclass(frozen=True)
class GeneratedLogs:
    files: list[LogFile]
    truth: LogTruth


def _event_id(config: GeneratorConfig, sessionid: str, n: int) -> str:
    h = hashlib.md5(f"{config.seed}:event:{sessionid}:{n}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _iso(ts: datetime, seoul: bool) -> str:
    aware = ts.replace(tzinfo=timezone.utc)
    return aware.astimezone(SEOUL).isoformat(timespec="milliseconds") if seoul else aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _clf_time(ts: datetime) -> str:
    return ts.replace(tzinfo=timezone.utc).astimezone(SEOUL).strftime("%d/%b/%Y:%H:%M:%S %z")


def _ip(userid: int) -> str:
    return f"10.{userid // 65536 % 256}.{userid // 256 % 256}.{userid % 256}"


def _pack(key: str, lines: list[str]) -> bytes:
    data = ("\n".join(lines) + "\n").encode()
    return gzip.compress(data, mtime=0) if key.endswith(".gz") else data


def generate_logs(days: list[date], config: GeneratorConfig = GeneratorConfig(), *, malformed: bool = True,
                  late_day: date | None = None) -> GeneratedLogs:
    """Both logs for these days. `late_day` (default: the second day, when there are two or more)
    gets an extra events file that lands the day after it."""
    if late_day is None and len(days) >= 2:
        late_day = days[1]
    files: list[LogFile] = []
    truth = LogTruth()
    for day in days:
        data = generate_day(day, config)
        rng = np.random.default_rng([config.seed, day.toordinal(), 11])
        events: list[list[str]] = [[], []]  # two files a day: the app's two servers
        access: list[str] = []
        purchases = set(data.txn_sessionid)
        for i, (sid, uid, ts) in enumerate(zip(data.sessionid, data.userid, data.ts)):
            server = i % 2
            seoul = bool(i % 3 == 0)
            n_pages = int(rng.integers(1, 5))
            t = ts
            session_events = [("session_start", t, {"channel": data.channel[i]})]
            for p in range(n_pages):
                t = t + timedelta(seconds=int(rng.integers(1, 120)))
                page = PAGES[int(rng.integers(0, len(PAGES)))]
                props = {"page": page, "referrer": "https://www.google.com/" if p == 0 else None}
                if day.day % 2 == 0:  # properties grow over time: later app versions send more keys
                    props["app_version"] = "2.4.0"
                session_events.append(("page_view", t, props))
                status = int(rng.choice([200, 200, 200, 200, 200, 200, 301, 404, 500]))
                access.append(
                    f'{_ip(uid)} - - [{_clf_time(t)}] "GET {page} HTTP/1.1" {status} {int(rng.integers(200, 50_000))} '
                    f'"{props["referrer"] or "-"}" "{AGENTS[uid % len(AGENTS)]}"'
                )
                truth.requests[(day, status)] += 1
                truth.requests_by_utc_day[(t.date(), status)] += 1
                last_request = (t.date(), status)
                if rng.random() < 0.3:
                    static = STATIC[int(rng.integers(0, len(STATIC)))]
                    access.append(f'{_ip(uid)} - - [{_clf_time(t)}] "GET {static} HTTP/1.1" 304 - "-" "{AGENTS[uid % len(AGENTS)]}"')
                    truth.requests[(day, 304)] += 1
                    truth.requests_by_utc_day[(t.date(), 304)] += 1
                    last_request = (t.date(), 304)
            if sid in purchases:
                t = t + timedelta(seconds=30)
                amount = data.txn_amount[data.txn_sessionid.index(sid)]
                session_events.append(("purchase", t, {"amount": amount, "currency": "KRW", "page": "/cart"}))
            for n, (name, when, props) in enumerate(session_events):
                line = json.dumps({
                    "event_id": _event_id(config, sid, n), "event": name, "user_id": uid, "session_id": sid,
                    "ts": _iso(when, seoul), "properties": props,
                }, separators=(",", ":"))
                events[server].append(line)
                truth.events[(day, name)] += 1
                _count_event(truth, when, uid)
        # A retried send: the same event line again (loaded once: its event_id repeats).
        events[0].append(events[0][0])
        # A double request: the same access line twice in one file is two requests.
        access.append(access[-1])
        truth.requests[(day, int(re.search(r'" (\d{3}) ', access[-1])[1]))] += 1
        truth.requests_by_utc_day[last_request] += 1

        base = f"landing/logs/app_events/day={day.isoformat()}"
        event_keys = [f"{base}/server-a.jsonl.gz", f"{base}/server-b.jsonl"]
        access_key = f"landing/logs/access_log/day={day.isoformat()}/access.log.gz"
        if malformed:
            bad_json = [
                ("truncated_json", events[0][1][: len(events[0][1]) // 2]),
                ("not_json", f"{day.isoformat()} 12:00:01 ERROR worker-3 lost connection to the event queue"),
                ("bad_timestamp", events[1][0].replace('"ts":"', '"ts":"2026-13-45T99:', 1)),
            ]
            for k, (kind, line) in enumerate(bad_json):
                target = events[k % 2]
                position = int(rng.integers(1, len(target)))
                target.insert(position, line)
            access.insert(int(rng.integers(1, len(access))), '10.0.0.1 - - [garbage line without a request] "" 200')
        # Line numbers once every insertion is done.
        if malformed:
            for server, key in enumerate(event_keys):
                for n, line in enumerate(events[server], start=1):
                    kind = _malformed_kind(line, day)
                    if kind:
                        truth.malformed.append(MalformedLine(key, n, kind))
            for n, line in enumerate(access, start=1):
                if line.startswith("10.0.0.1 - - [garbage"):
                    truth.malformed.append(MalformedLine(access_key, n, "unmatched_access_line"))
        for server, key in enumerate(event_keys):
            files.append(LogFile(key, _pack(key, events[server]), day, day))
        files.append(LogFile(access_key, _pack(access_key, access), day, day))

        if day == late_day:
            # The mobile app's batch upload for the day, a day late: more events of real sessions.
            late_lines = []
            for j in range(0, len(data.sessionid), 10):
                sid, uid, ts = data.sessionid[j], data.userid[j], data.ts[j]
                late_lines.append(json.dumps({
                    "event_id": _event_id(config, sid, 100), "event": "app_background", "user_id": uid, "session_id": sid,
                    "ts": _iso(ts + timedelta(minutes=10), True), "properties": {"battery": 0.5},
                }, separators=(",", ":")))
                truth.events[(day, "app_background")] += 1
                _count_event(truth, ts + timedelta(minutes=10), uid)
            late_key = f"{base}/mobile-late.jsonl.gz"
            files.append(LogFile(late_key, _pack(late_key, late_lines), day, day + timedelta(days=1)))
    return GeneratedLogs(files, truth)


def _count_event(truth: LogTruth, when: datetime, userid: int) -> None:
    truth.events_by_utc_day[when.date()] += 1
    truth.active_users.setdefault(when.date(), set()).add(userid)


def _malformed_kind(line: str, day: date) -> str | None:
    if line.startswith(f"{day.isoformat()} 12:00:01 ERROR"):
        return "not_json"
    if '"ts":"2026-13-45T99:' in line:
        return "bad_timestamp"
    try:
        json.loads(line)
    except ValueError:
        return "truncated_json"
    return None
