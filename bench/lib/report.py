#!/usr/bin/env python3
"""Turns bench results (JSON lines from driver.py) into the markdown table
and the wall-time plot. Medians over rounds; failed runs are left out and
counted."""

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path

ORDER = ["katafleet", "katafleet-par", "ansible", "ansible-tuned", "pyinfra", "raw-ssh", "facts-rtt"]
LABEL = {
    "katafleet": "katafleet provision",
    "katafleet-par": "katafleet --parallel=hosts (diagnostic)",
    "ansible": "Ansible (defaults)",
    "ansible-tuned": "Ansible (tuned)",
    "pyinfra": "pyinfra",
    "raw-ssh": "raw SSH (floor)",
    "facts-rtt": "bare facts round trip",
}
STYLE = {
    "katafleet": ("tab:red", "o"),
    "katafleet-par": ("tab:orange", "o"),
    "ansible": ("tab:blue", "s"),
    "ansible-tuned": ("tab:cyan", "D"),
    "pyinfra": ("tab:green", "^"),
    "raw-ssh": ("black", "x"),
    "facts-rtt": ("tab:gray", "."),
}


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def medians(rows):
    """{(hosts, contender, run): {metric: median, n, failed}}"""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["hosts"], r["contender"], r["run"])].append(r)
    out = {}
    for key, rs in groups.items():
        good = [r for r in rs if r["ok"]]
        m = {"n": len(good), "failed": len(rs) - len(good)}
        for metric in ("wall_s", "cpu_s", "hosts_cpu_s", "peak_pss_mib", "load_before"):
            # Results from before the hosts' CPU was measured lack it.
            vals = [r[metric] for r in good if r.get(metric) is not None]
            m[metric] = statistics.median(vals) if vals else None
            m[metric + "_all"] = vals
        out[key] = m
    return out


def fmt(v, unit="", digits=1):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f}{unit}"
    return f"{v:.{digits}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def machine():
    mem_kib = int(
        next(l for l in open("/proc/meminfo") if l.startswith("MemTotal:")).split()[1]
    )
    return f"{os.cpu_count()} cores, {mem_kib / 1024 / 1024:.0f} GiB"


def versions(katafleet, venv):
    v = {}

    def run(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
        except OSError:
            return ""

    v["katafleet"] = (run([katafleet, "--version"]).strip() if katafleet else "") or "katafleet"
    # KATAFLEET_BIN_REV says which commit a KATAFLEET_BIN was built from.
    commit = os.environ.get("KATAFLEET_BIN_REV") or run(
        ["git", "-C", str(Path(__file__).resolve().parents[2]), "rev-parse", "--short", "HEAD"]
    ).strip()
    if commit:
        v["katafleet"] += f" (built from {commit})"
    first = run([f"{venv}/bin/ansible-playbook", "--version"]).splitlines()
    v["ansible"] = first[0] if first else "ansible-core"
    v["pyinfra"] = run([f"{venv}/bin/pyinfra", "--version"]).strip().replace("pyinfra: ", "") or "?"
    ssh = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    v["ssh"] = ssh
    v["python"] = platform.python_version()
    return v


def table(med, counts):
    lines = [
        "| hosts | tool | 1st run wall | 2nd run wall | controller CPU s (1st / 2nd) | hosts' CPU s (1st / 2nd) | peak MiB (1st / 2nd) | × floor (1st / 2nd) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in counts:
        floor1 = med.get((n, "raw-ssh", 1), {}).get("wall_s")
        floor2 = med.get((n, "raw-ssh", 2), {}).get("wall_s")
        for c in ORDER:
            r1 = med.get((n, c, 1))
            if r1 is None:
                continue
            r2 = med.get((n, c, 2), {})
            bad = r1["failed"] + r2.get("failed", 0)
            note = f" ({bad} failed run{'s' if bad > 1 else ''})" if bad else ""
            if c == "facts-rtt":
                lines.append(
                    f"| {n} | {LABEL[c]}{note} | – | {fmt(r1['wall_s'], ' s', 2)} | "
                    f"– / {fmt(r1['cpu_s'], '', 2)} | – / {fmt(r1['hosts_cpu_s'], '', 2)} | "
                    f"– / {fmt(r1['peak_pss_mib'], '', 0)} | "
                    f"– / {fmt(ratio(r1['wall_s'], floor2), '×', 2)} |"
                )
                continue
            lines.append(
                f"| {n} | {LABEL[c]}{note} | {fmt(r1['wall_s'], ' s', 2)} | "
                f"{fmt(r2.get('wall_s'), ' s', 2)} | "
                f"{fmt(r1['cpu_s'], '', 2)} / {fmt(r2.get('cpu_s'), '', 2)} | "
                f"{fmt(r1['hosts_cpu_s'], '', 2)} / {fmt(r2.get('hosts_cpu_s'), '', 2)} | "
                f"{fmt(r1['peak_pss_mib'], '', 0)} / {fmt(r2.get('peak_pss_mib'), '', 0)} | "
                f"{fmt(ratio(r1['wall_s'], floor1), '×', 2)} / "
                f"{fmt(ratio(r2.get('wall_s'), floor2), '×', 2)} |"
            )
    return "\n".join(lines)


def targets(med, counts):
    """The goals of issue 14, at 50 hosts (or the largest count below it),
    as ratios within this run; linearity from there to the largest count."""
    n = max((c for c in counts if c <= 50), default=max(counts))

    def get(c, run, metric="wall_s", at=n):
        return med.get((at, c, run), {}).get(metric)

    kf_mem, floor_mem = get("katafleet", 1, "peak_pss_mib"), get("raw-ssh", 1, "peak_pss_mib")
    checks = [
        ("1st run ≤ 1.0× the raw-SSH floor", ratio(get("katafleet", 1), get("raw-ssh", 1)), lambda r: r <= 1.0, "×"),
        ("1st run ≥ 1.5× faster than pyinfra", ratio(get("pyinfra", 1), get("katafleet", 1)), lambda r: r >= 1.5, "× faster"),
        ("hosts' CPU, 1st run, ≤ the floor's", ratio(get("katafleet", 1, "hosts_cpu_s"), get("raw-ssh", 1, "hosts_cpu_s")), lambda r: r <= 1.0, "×"),
        ("2nd run ≤ 0.5× the floor's 2nd run", ratio(get("katafleet", 2), get("raw-ssh", 2)), lambda r: r <= 0.5, "×"),
        (
            "controller memory ≤ the floor's + 20 MiB",
            None if kf_mem is None or floor_mem is None else kf_mem - floor_mem,
            lambda d: d <= 20,
            " MiB against the floor",
        ),
    ]
    big = max(counts)
    if big > n:
        w_small, w_big = get("katafleet", 1), get("katafleet", 1, at=big)
        per_host = ratio(ratio(w_big, big), ratio(w_small, n))
        checks.append(
            (f"1st run linear from {n} to {big} hosts (wall per host at {big} ≤ 1.2× at {n})", per_host, lambda r: r <= 1.2, "×")
        )
        m_small, m_big = get("katafleet", 1, "peak_pss_mib"), get("katafleet", 1, "peak_pss_mib", at=big)
        growth = None if m_small is None or m_big is None else (m_big - m_small) / (big - n)
        checks.append((f"controller memory grows ≤ 2 MiB per host from {n} to {big}", growth, lambda g: g <= 2, " MiB/host"))
        failed = med.get((big, "katafleet", 1), {}).get("failed")
        checks.append((f"no failed katafleet run at {big} hosts", failed, lambda f: f == 0, " failed"))
    lines = [f"| goal at {n} hosts | measured | met? |", "|---|---:|---|"]
    for what, r, ok, unit in checks:
        if r is None:
            lines.append(f"| {what} | – | not measured |")
        else:
            lines.append(f"| {what} | {r:.2f}{unit} | {'**yes**' if ok(r) else '**no**'} |")
    return "\n".join(lines)


def plot(med, counts, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharex=True)
    for ax, run, title in ((axes[0], 1, "first run (install)"), (axes[1], 2, "second run (idempotent)")):
        for c in ORDER:
            src_run = 1 if c == "facts-rtt" else run
            if c == "facts-rtt" and run == 1:
                continue
            xs, ys = [], []
            for n in counts:
                v = med.get((n, c, src_run), {}).get("wall_s")
                if v is not None:
                    xs.append(n)
                    ys.append(v)
            if xs:
                color, marker = STYLE[c]
                ls = "--" if c in ("raw-ssh", "facts-rtt") else "-"
                ax.plot(xs, ys, marker=marker, color=color, ls=ls, label=LABEL[c])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(counts)
        ax.set_xticklabels([str(c) for c in counts])
        ax.set_xlabel("hosts")
        ax.set_ylabel("wall time (s), median")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Kata install workload over SSH (50 MiB release), wall time vs host count")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--plot", required=True)
    ap.add_argument("--katafleet", default="")
    ap.add_argument("--venv", required=True)
    ap.add_argument("--notes", default=str(Path(__file__).resolve().parent.parent / "NOTES.md"))
    args = ap.parse_args()

    rows = load(args.results)
    med = medians(rows)
    counts = sorted({r["hosts"] for r in rows})
    rounds = max((r["round"] for r in rows), default=0)
    when = min((r["time"] for r in rows), default="")[:10]
    loads = [r["load_before"] for r in rows]
    v = versions(args.katafleet, args.venv)
    plot(med, counts, args.plot)

    out = [
        "# Benchmark results",
        "",
        f"Measured {when} on this project's machine kind ({machine()}, Debian 12), "
        f"all tools in one run of `bench/run` against the same kind of fresh test fleet "
        f"(`vm-tests/fleet`, bookworm hosts, reset between contenders). Medians of "
        f"{rounds} round(s). The hosts run on the same 2 cores as the controller. "
        f"Load average before a run: median {statistics.median(loads):.1f}, max {max(loads):.1f} "
        f"(other work shared the machine; see the notes on noise).",
        "",
        f"Versions: {v['katafleet']}; {v['ansible']}; pyinfra {v['pyinfra']}; {v['ssh']}; "
        f"controller Python {v['python']}.",
        "",
        f"![wall time vs hosts]({Path(args.plot).name})",
        "",
        "Wall: seconds until the tool exits. Controller CPU: CPU seconds of the tool's "
        "whole process tree (cgroup `cpuacct.usage`, includes its ssh processes). "
        "Hosts' CPU: CPU seconds all test hosts used during the run (the fleet's cgroup2 "
        "`cpu.stat`: sshd, the scripts, sha256, decompression, containerd). "
        "Peak MiB: peak of the summed PSS of that tree, sampled every 50 ms. "
        "× floor: wall time over the raw-SSH floor's at the same host count (2nd run: over "
        "the floor's own idempotent pass). The bare facts round trip is measured once, "
        "after katafleet's second run on the same hosts.",
        "",
        table(med, counts),
        "",
    ]
    if counts:
        out += ["## Goals", "", targets(med, counts), ""]
    notes = Path(args.notes)
    if notes.exists() and Path(args.markdown).resolve().parent == notes.resolve().parent:
        out += [notes.read_text().rstrip(), ""]
    out += [
        "## Raw data",
        "",
        f"Every run: [`{Path(args.results).name}`]({Path(args.results).name}) "
        "(JSON lines: hosts, round, contender, run, wall_s, cpu_s, hosts_cpu_s, peak_pss_mib, "
        "peak_procs, load_before, ok, problems).",
        "",
    ]
    Path(args.markdown).write_text("\n".join(out))
    failed = sum(1 for r in rows if not r["ok"])
    print(f"report: {args.markdown}, {args.plot} ({len(rows)} runs, {failed} failed)")


if __name__ == "__main__":
    main()
