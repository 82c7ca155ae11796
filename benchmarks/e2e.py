"""`python -m benchmarks.e2e`: a quarter end to end through Dagster, landing to dashboard.

What `omu run` does (pipelines/runner.py: the landing and chain sensors' requests, executed as real
Dagster runs on the omu home's instance, two at a time in worker processes), timed against the
DuckDB scan limit of the same files (baseline a, before and right after, as in `benchmarks.run`),
then a corrected re-delivery of one practice through the same `omu run`. From Dagster's own event
log: how many runs of each job, and the seconds of every step (summed over runs), so the fixed cost
per practice shows where it is. Peak RSS covers this process and its worker processes.

    python -m benchmarks.e2e --practices 30            # 30 city practices, 2,000-4,000 patients each
    python -m benchmarks.e2e --practices 120 --reuse   # the city

Results: benchmarks/results/<name>.json and .md (name default e2e-city-<N>p).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.measure import Stages, machine, max_rss_mb
from benchmarks.run import DEFAULT_WORK, RESULTS_DIR, SEED, _parse_patients, code_version, ratio

GOALS = {
    "e2e_vs_scan_limit": (10.0, "landing to dashboard through Dagster within 10x the scan limit"),
    "e2e_vs_scan_limit_cpu": (10.0, "the same in CPU seconds (robust to other work on the machine)"),
    "ingest_vs_scan_limit": (3.0, "ingest alone within 3x the scan limit"),
    "redelivery_share_of_full_run": (0.02, "re-delivery of one practice within 2% of the full run"),
}
LABELS = {
    "generate": "generate (synthetic CSV deliveries)",
    "scan_limit": "baseline a: scan limit (DuckDB count(*) over read_csv, every file once)",
    "e2e": "landing to dashboard: omu run (Dagster runs: ingest, screening, model, lists, region, feedback)",
    "scan_limit_after": "baseline a again, right after",
    "redelivery": "re-delivery of one practice: omu run again (every run it requests)",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.e2e",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--practices", type=int, default=120)
    p.add_argument("--patients", type=_parse_patients, default=(2000, 4000))
    p.add_argument("--quarters", default="2026Q3")
    p.add_argument("--workers", type=int, default=2, help="runs side by side (config automation.workers)")
    p.add_argument("--name")
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    p.add_argument("--reuse", action="store_true", help="keep a landing generated with the same parameters")
    p.add_argument("--skip-redelivery", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the omu home (default: removed)")
    return p


def step_seconds(instance, run_ids: list[str]) -> dict[str, dict[str, float]]:
    """Per job: its runs' wall seconds and every step's seconds, summed, from Dagster's event log."""
    import dagster as dg

    kinds = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for run_id in run_ids:
        record = instance.get_run_record_by_id(run_id)
        if record is None:
            continue
        job = record.dagster_run.job_name
        out[job]["runs"] += 1
        if record.start_time and record.end_time:
            out[job]["run_wall"] += record.end_time - record.start_time
        started: dict[str, float] = {}
        for entry in instance.all_logs(run_id, of_type=kinds):
            key = entry.step_key or ""
            if entry.dagster_event and entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                started[key] = entry.timestamp
            elif key in started:
                out[job][f"step {key}"] += entry.timestamp - started.pop(key)
    return {job: dict(values) for job, values in out.items()}


def _run_ids(instance, after: set[str] | None = None) -> list[str]:
    import dagster as dg

    ids = [r.dagster_run.run_id for r in instance.get_run_records(dg.RunsFilter())]
    return [i for i in ids if after is None or i not in after]


def _practice_state(database: Path) -> dict[str, tuple]:
    from omu import store

    with store.connect(database) as conn:
        rows = conn.sql(
            "SELECT practice_id, count(*), max(screened_at) FROM score_history GROUP BY 1"
        ).fetchall()
    return {practice: (count, str(latest)) for practice, count, latest in rows}


def run(args: argparse.Namespace, stages: Stages, log) -> dict[str, Any]:
    from benchmarks.data import delivery_dirs, generate_landing, make_redelivery, scan_limit
    from omu.home import OmuHome
    from omu.pipelines.runner import close_workers, run_chain

    work = args.work / args.name
    landing = work / "landing"
    home = OmuHome(work / "home")
    if home.root.exists():
        shutil.rmtree(home.root)
    home.prepare()
    log(f"generating {args.practices} practices, quarters {args.quarters}")
    with stages.stage("generate") as st:
        info = generate_landing(
            landing,
            practices=args.practices,
            quarters=args.quarters,
            seed=SEED,
            patients=args.patients,
            reuse=args.reuse,
        )
        st.details = {"deliveries": len(info.deliveries), "reused": not info.generated}
    # a re-delivery of an earlier run is undone: the landing holds the generated deliveries only
    if args.reuse and (work / "original").is_dir():
        for saved in (work / "original").glob("*/*"):
            target = landing / saved.parent.name / saved.name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(saved, target)
    deliveries = delivery_dirs(landing)
    size = {
        "practices": args.practices,
        "patients_range": list(args.patients),
        "quarters": args.quarters,
        "deliveries": len(deliveries),
        "patients_registered": info.patients_registered,
        "rows_total": sum(info.rows.values()),
        "csv_mb": round(info.bytes / 2**20, 1),
    }

    with stages.stage("scan_limit") as st:
        st.details = {"rows": scan_limit(deliveries)}
    import dagster as dg

    log(f"omu run: {len(deliveries)} deliveries, {args.workers} runs side by side")
    with stages.stage("e2e", note=f"{args.workers} worker processes") as st:
        summary = run_chain(home, landing, workers=args.workers)
        close_workers()  # ended workers' CPU counts as this process's children's
        st.details = {"runs": len(summary.runs), "failed": [r.job for r in summary.runs if not r.success]}
    if not summary.success:
        raise RuntimeError(
            f"runs failed: {[(r.job, r.practice_id, r.message[:200]) for r in summary.runs if not r.success][:3]}"
        )
    with stages.stage("scan_limit_after") as st:
        st.details = {"rows": scan_limit(deliveries)}
    instance = dg.DagsterInstance.get()
    first_ids = _run_ids(instance)
    out: dict[str, Any] = {"size": size, "steps": step_seconds(instance, first_ids)}

    if not args.skip_redelivery:
        first = deliveries[0]
        practice_id, quarter = first.parent.name, first.name
        original = work / "original" / practice_id / quarter
        if not original.is_dir():
            shutil.copytree(first, original)
        corrected = make_redelivery(original, work / "redelivery" / practice_id / quarter)
        shutil.rmtree(first)
        shutil.copytree(corrected, first)
        before = _practice_state(home.database)
        log(f"re-delivery of {practice_id} {quarter}: omu run again")
        with stages.stage("redelivery", note=f"{practice_id} {quarter}") as st:
            again = run_chain(home, landing, workers=args.workers)
            close_workers()
            st.details = {"runs": len(again.runs)}
        after = _practice_state(home.database)
        new_ids = _run_ids(instance, set(first_ids))
        runs = [(r.job, r.practice_id) for r in again.runs]
        out["redelivery"] = {
            "practice_id": practice_id,
            "quarter": quarter,
            "success": again.success,
            "runs": runs,
            "practice_runs_of_other_practices": sorted(
                {p for job, p in runs if p not in (practice_id, "model", "regio")}
            ),
            "other_practices": len(before) - 1,
            "other_practices_rescreened": sorted(
                p for p in before if p != practice_id and before[p] != after.get(p)
            ),
            "this_practice_rescreened": before.get(practice_id) != after.get(practice_id),
            "steps": step_seconds(instance, new_ids),
        }
        shutil.rmtree(first)
        shutil.copytree(original, first)  # the landing as generated, for --reuse
    if not args.keep:
        shutil.rmtree(home.root, ignore_errors=True)
    return out


def ratios(stages: Stages, out: dict[str, Any], workers: int) -> dict[str, dict[str, Any]]:
    scans = [stages.seconds("scan_limit"), stages.seconds("scan_limit_after")]
    scan = sum(scans) / len(scans)
    e2e = stages.seconds("e2e")
    ingest_steps = out["steps"].get("screening_job", {}).get("step ingest_delivery", float("nan"))
    # CPU seconds (this process and its workers) against the scan's: less moved by other work on
    # a shared machine than wall time, which waits for the CPU whenever others hold it
    scan_cpu = sum(s.cpu_seconds for s in stages.results if s.name.startswith("scan_limit")) / 2
    e2e_stage = stages.get("e2e")
    e2e_cpu = e2e_stage.cpu_seconds if e2e_stage is not None else float("nan")
    result = {
        "e2e_vs_scan_limit": (e2e, scan, ratio(e2e, scan)),
        "e2e_vs_scan_limit_cpu": (e2e_cpu, scan_cpu, ratio(e2e_cpu, scan_cpu)),
        # the ingest steps ran inside the screening runs, `workers` at a time: their summed seconds
        # divided by the workers is the wall time ingest alone would take with the same overlap
        "ingest_vs_scan_limit": (ingest_steps / workers, scan, ratio(ingest_steps / workers, scan)),
    }
    redelivery = stages.seconds("redelivery")
    if not math.isnan(redelivery):
        result["redelivery_share_of_full_run"] = (redelivery, e2e, ratio(redelivery, e2e))
    return {
        key: {
            "omu_seconds": a,
            "baseline_seconds": b,
            "value": v,
            "goal": GOALS[key][1],
            "met": None if math.isnan(v) else v <= GOALS[key][0],
        }
        for key, (a, b, v) in result.items()
    }


def markdown(result: dict[str, Any]) -> str:
    size, m, code = result["size"], result["machine"], result["code"]
    changed = code.get("modified_tracked_files")
    lines = [
        f"#### Benchmark `{result['name']}` (end to end through Dagster), {result['started_at'][:16].replace('T', ' ')}",
        "",
        f"Size: {size['practices']} practices ({size['patients_range'][0]:,}-{size['patients_range'][1]:,} "
        f"patients), {size['patients_registered']:,} registered, quarters {size['quarters']} with the first "
        f"delivery's backfill, {size['rows_total']:,} rows ({size['csv_mb']:,} MB of CSV). Machine: "
        f"{m['cpus']} CPUs, load average at start {m['load_average_at_start'][0]}. Code: commit {code['commit']}"
        + (f" + changes in {', '.join(changed)}" if changed else "")
        + ".",
        "",
        "| stage | wall s | CPU s | peak RSS MiB | note |",
        "|---|---:|---:|---:|---|",
    ]
    for s in result["stages"]:
        lines.append(
            f"| {LABELS.get(s['name'], s['name'])} | {s['seconds']:,.1f} | {s['cpu_seconds']:,.1f} | "
            f"{s['peak_rss_mb']:,.0f} | {s['status'] if s['status'] != 'ok' else ''} {s['note']} |"
        )
    lines += [
        "",
        "| comparison (same run) | omu s | baseline s | ratio | goal | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for key, e in result["ratios"].items():
        shown = f"{e['value']:.1%}" if key.startswith("redelivery") else f"{e['value']:.1f}x"
        met = {True: "yes", False: "**no**", None: "–"}[e["met"]]
        lines.append(
            f"| {key} | {e['omu_seconds']:,.1f} | {e['baseline_seconds']:,.1f} | {shown} | {e['goal']} | {met} |"
        )
    lines += [
        "",
        "Dagster runs and step seconds (summed over runs, from the event log):",
        "",
        "| job | runs | run wall s (sum) | steps (s, summed) |",
        "|---|---:|---:|---|",
    ]
    for job, values in sorted(result["steps"].items()):
        steps = ", ".join(
            f"{k[5:]} {v:,.1f}"
            for k, v in sorted(values.items(), key=lambda kv: -kv[1])
            if k.startswith("step ")
        )
        lines.append(f"| {job} | {values['runs']:.0f} | {values.get('run_wall', 0):,.1f} | {steps} |")
    if "redelivery" in result:
        r = result["redelivery"]
        jobs: dict[str, int] = defaultdict(int)
        for job, _ in r["runs"]:
            jobs[job] += 1
        lines += [
            "",
            f"Re-delivery {r['practice_id']} {r['quarter']}: runs {dict(jobs)}; "
            f"{len(r['other_practices_rescreened'])} of {r['other_practices']} other practices re-screened; "
            f"practice-level runs of other practices: {len(r['practice_runs_of_other_practices'])}.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parser().parse_args(argv)
    args.name = args.name or f"e2e-city-{args.practices}p"
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

    def log(message: str) -> None:
        print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    result: dict[str, Any] = {
        "name": args.name,
        "started_at": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code_version(),
        "command": "python -m benchmarks.e2e " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    stages = Stages()
    began = time.perf_counter()
    try:
        result.update(run(args, stages, log))
    finally:
        result["stages"] = [s.as_dict() for s in stages.results]
        result["seconds"] = time.perf_counter() - began
        result["max_rss"] = max_rss_mb()
    result["ratios"] = ratios(stages, result, args.workers)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    table = markdown(result)
    (args.results / f"{args.name}.md").write_text(table)
    print(table)
    return result


if __name__ == "__main__":
    try:
        main()
        code = 0
    except Exception:
        import traceback

        traceback.print_exc()
        code = 1
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
