"""The bench's Markdown report (``python -m bench``): the tables of one run
from the measured figures."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import time
from urllib.parse import urlparse

#: partners in the import bench's data set
IMPORT_PARTNERS = 10_000
PARTNER_SAMPLE = 200  # random partners for the partner pages


def admin_url(url: str) -> str:
    """The maintenance database's URL next to ``url``'s."""
    return urlparse(url)._replace(path="/postgres").geturl()


def _pg_version(url: str) -> str:
    import psycopg2

    conn = psycopg2.connect(admin_url(url))
    try:
        version = conn.server_version
    finally:
        conn.close()
    return f"{version // 10000}.{version % 10000}"


def _fmt_queries(uncached: list[int], cached: list[int]) -> str:
    """``12`` or ``12-14`` (several partners); ``12 / 3`` when the page cache
    saves queries (an empty cache, then cached)."""

    def span(values: list[int]) -> str:
        low, high = min(values), max(values)
        return f"{low}" if low == high else f"{low}-{high}"

    if uncached == cached:
        return span(cached)
    return f"{span(uncached)} / {span(cached)}"


def _fmt_ms(uncached: list[float], cached: list[float]) -> str:
    """Median milliseconds of one request alone: empty cache / cached."""
    return f"{statistics.median(uncached):,.0f} / {statistics.median(cached):,.0f}"


def report(args, sizes: list[dict], imported: dict | None, started: float, load1: float) -> str:
    today = datetime.date.today().isoformat()  # noqa: DTZ011
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        cpu = next((line.split(":", 1)[1].strip() for line in handle if "model name" in line), "?")
    with open("/proc/meminfo", encoding="utf-8") as handle:
        kb = next((int(line.split()[1]) for line in handle if line.startswith("MemTotal")), 0)
    command = "python -m bench " + " ".join(sys.argv[1:])
    lines = [
        f"# Benchmark {today}" + (" (quick)" if args.quick else ""),
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), {kb / 1024 / 1024:.1f} GB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {_pg_version(args.database_url)}. "
        f"Shared with other work (load average {load1:.1f} at the start): absolute "
        "figures are noisy, the ratios (measured side by side in the same run) less so.",
        "",
        f"Run: `{command.strip()}`, {(time.monotonic() - started) / 60:.0f} min; "
        f"time figures are the median of {args.runs} runs.",
        "",
        "## Data",
        "",
        "| partners | locations | revenue rows | months | lines per location-month | seed_demo |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        seeded = f"{s['seed_s']:.0f} s" if s.get("seed_s") else "reused"
        lines.append(
            f"| {s['partners']:,} | {s['locations']:,} | {s['rows']:,} | {args.months} "
            f"| {args.lines_per_month or '1-4'} | {seeded} |"
        )
    lines += [
        "",
        "## Nightly evaluation",
        "",
        "`evaluate_eligibility --json` for a new night (evaluate every subject, decide, record "
        "what changed) next to the bare SQL TTM `SUM … GROUP BY location` over the same "
        "window. Peak memory: max RSS of one more night as a process of its own. "
        "Targets at the largest size: ratio ≤ 1.5, under 30 s, under 500 MB. "
        "Simulation: `simulate_policy --json` of the same night, threshold raised by half "
        "(draft and stored policy side by side, nothing written), in the same run: the "
        "slowest policy (the one covering the most subjects) and every policy in force one "
        "after the other; target: a simulation no slower than the nightly.",
        "",
        "| partners | revenue rows | bare SQL s | ours s | ratio | µs per row | "
        "as a process s | peak RSS MB | catch-up s | simulation s | simulation / nightly "
        "| every policy s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        catch_up = f"{s['catch_up_s']:.1f}" if s.get("catch_up_s") else "-"
        simulation = (
            f"{s['simulation_s']:.3f} (`{s['simulation_policy']}`) "
            f"| {s['simulation_s'] / s['nightly_s']:.2f} | {s['simulation_every_s']:.3f}"
            if s.get("simulation_s") is not None
            else "- | - | -"
        )
        lines.append(
            f"| {s['partners']:,} | {s['rows']:,} | {s['baseline_s']:.3f} | {s['nightly_s']:.3f} "
            f"| {s['nightly_s'] / s['baseline_s']:.2f} | {s['nightly_s'] / max(s['rows'], 1) * 1e6:.2f} "
            f"| {s['process_s']:.1f} | {s['peak_mb']:,.0f} | {catch_up} | {simulation} |"
        )
    lines += [
        "",
        "History as periods (docs/decisions/0014): rows a night wrote (periods inserted or "
        "closed) against the findings it made - a full write of one row per finding - night "
        "by night. Target: a night where nothing changed but the date writes at most 10 %.",
        "",
        "| partners | findings a night | rows written, night by night | share |",
        "| ---: | ---: | --- | ---: |",
    ]
    for s in sizes:
        if "written_all" not in s:
            continue
        share = max(s["written_all"][1:] or s["written_all"]) / max(s["findings_all"][-1], 1)
        lines.append(
            f"| {s['partners']:,} | {s['findings_all'][-1]:,} "
            f"| {', '.join(f'{w:,}' for w in s['written_all'])} | {share * 100:.1f} % |"
        )
    stored = [s for s in sizes if s.get("history")]
    if stored:
        lines += [
            "",
            "Storage after the nights (`--history-nights`): periods and evaluated days with "
            "their indexes, next to one row per (subject, policy, day) with both "
            "explanations (a day materialised in that shape, times the days). "
            "Target at 10,000 partners after 30 nights: at most 15 %.",
            "",
            "| partners | nights | day rows | periods | stored MB | day rows MB | share |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in stored:
            h = s["history"]
            lines.append(
                f"| {s['partners']:,} | {h['nights']} | {h['day_rows']:,} | {h['periods']:,} "
                f"| {h['stored_bytes'] / 2**20:.1f} | {h['day_row_bytes'] / 2**20:.1f} "
                f"| {h['stored_bytes'] / h['day_row_bytes'] * 100:.1f} % |"
            )
    lines += [
        "",
        "The deadline outlook (PRODUCT 4.9) side by side, in turn first: the engine alone "
        "(every subject evaluated, nothing written) of the same nights with and without it, "
        "and a whole night (`evaluate_eligibility --json`, written, then rolled back) two days "
        "on, after the night before it was run the same way (so that each compares with a "
        "history of its own kind). Without the outlook: no outlooks, and the TTM scan sums "
        "neither the pace months nor the rolling off. Target: the outlook costs at most 15 % "
        "of the night. Compliant but short: subjects compliant today whose outlook at the "
        "deadline is `short` (last night).",
        "",
        "| partners | subjects | engine s | without the outlook s | outlook costs "
        "| night s | without the outlook s | outlook costs "
        "| compliant today, short at the deadline |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        if "engine_s" not in s:
            continue
        whole = (
            f"| {s['whole_s']:.3f} | {s['whole_plain_s']:.3f} "
            f"| {(s['whole_s'] / s['whole_plain_s'] - 1) * 100:+.0f} % "
            if "whole_s" in s
            else "| | | "
        )
        lines.append(
            f"| {s['partners']:,} | {s['subjects']:,} | {s['engine_s']:.3f} "
            f"| {s['no_outlook_s']:.3f} | {(s['engine_s'] / s['no_outlook_s'] - 1) * 100:+.0f} % "
            f"{whole}| {s['compliant_short']:,} |"
        )
    pages = ["/", "/partners/", "/partners/[id]/", "/ (partner dashboard)"]
    labels = {
        "/": "dashboard `/` (manager)",
        "/partners/": "partner list `/partners/`",
        "/partners/[id]/": f"partner detail (random of {PARTNER_SAMPLE})",
        "/ (partner dashboard)": "own dashboard `/` (partner1)",
    }
    lines += [
        "",
        "## Pages",
        "",
        "Queries and one request alone: Django's test client in process (no concurrency), "
        "`a / b`: with an empty page cache, then cached (partner detail: the median of five "
        "partners). Load: gunicorn "
        f"(`gunicorn.conf.py`, {args.workers} gthread workers x {args.threads} threads, "
        "production settings) on loopback, locust with "
        f"{args.users} users (think time 0.5-2 s) for {args.load_seconds} s as `manager` "
        f"(the three staff pages in turn) and {max(5, args.load_seconds // 2)} s as `partner1`; "
        "percentiles over the requests after the last login, measured by the client on the "
        "same 2 cores; page caches: "
        f"{next((s['load']['cache'] for s in sizes if (s.get('load') or {}).get('cache')), '-')}. "
        "Targets at the largest size: p95 under 150 ms, queries constant.",
        "",
        "| partners | page | queries | one request ms | requests | failures | p50 ms | p95 ms |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        for page in pages:
            load = (s.get("load") or {}).get(page)
            figures = (
                f"{load['requests']:,} | {load['failures']:,} | {load['p50']:,.0f} | {load['p95']:,.0f}"
                if load
                else "- | - | - | -"
            )
            queries = _fmt_queries(s["queries_uncached"][page], s["queries"][page])
            alone = _fmt_ms(s["ms_uncached"][page], s["ms"][page])
            lines.append(
                f"| {s['partners']:,} | {labels[page]} | {queries} | {alone} | {figures} |"
            )
    lines += ["", "## Revenue import", ""]
    if imported is None:
        lines.append("Not measured (`--import-rows 0`).")
    elif imported.get("rows"):
        lines += [
            f"Partner Center file of {args.import_rows:,} lines into the "
            f"{IMPORT_PARTNERS:,}-partner database, next to a bare `COPY` of the same file "
            "(`bench.imports.measure`). Target: at least 0.5x the speed of the bare COPY.",
            "",
            "| measure | rows | seconds | rows/s | time vs COPY | speed vs COPY |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in imported["rows"]:
            ratio = float(row["ratio"])  # seconds over the bare COPY's seconds
            lines.append(
                f"| {row['measure']} | {int(row['rows']):,} | {float(row['seconds']):.2f} "
                f"| {float(row['rows_per_s']):,.0f} | {ratio:.2f} | {1 / ratio:.2f} |"
            )
    else:
        lines.append(
            f"Partner Center file of {args.import_rows:,} lines into the "
            f"{IMPORT_PARTNERS:,}-partner database: see `{today}-import.md` "
            "(written by `python -m bench.imports` in this run)."
        )
    return "\n".join(lines) + "\n"
