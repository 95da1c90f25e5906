#!/usr/bin/env python3
"""Summarizes a storage_bench.sh run: medians over rounds, spreads, the
issue's target ratios; optionally a PNG (needs matplotlib)."""
import argparse
import collections
import statistics
import sys

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--plot")
a = p.parse_args()

iops = collections.defaultdict(list)
order = []
for line in open(f"{a.out}/iops.tsv"):
    _, w, c, v = line.split("\t")
    iops[(w, c)].append(int(v))
    if w not in order:
        order.append(w)
contenders = []
for (_, c) in iops:
    if c not in contenders:
        contenders.append(c)

med = {k: statistics.median(v) for k, v in iops.items()}


def fmt(v):
    return f"{v / 1000:.1f}K" if v >= 1000 else f"{v:.0f}"


lines = ["| workload | " + " | ".join(contenders) + " |", "|---|" + "---|" * len(contenders)]
for w in order:
    cells = []
    for c in contenders:
        v = iops.get((w, c))
        cells.append(f"{fmt(med[(w, c)])} ({fmt(min(v))}–{fmt(max(v))})" if v else "-")
    lines.append(f"| {w} | " + " | ".join(cells) + " |")
print("\nIOPS, median over rounds (min–max):\n")
print("\n".join(lines))


def ratio(w, num, den):
    if (w, num) in med and (w, den) in med and med[(w, den)]:
        return med[(w, num)] / med[(w, den)]
    return None


print("\nTargets (ringio against):\n")
print("| workload | target | ratio | met |")
print("|---|---|---|---|")
checks = []
for w in order:
    if w == "rand4k-buf-qd32":
        checks.append((w, "fio-uring-tuned", 1.0))
    if "direct" in w:
        checks.append((w, "fio-uring", 0.97))
    checks.append((w, "tokio", 6.0))
for w, den, target in checks:
    r = ratio(w, "ringio", den)
    if r is None:
        continue
    print(f"| {w} | >= {target}x {den} | {r:.2f}x | {'yes' if r >= target else 'no'} |")

try:
    rows = [l.rstrip("\n").split("\t") for l in open(f"{a.out}/logstore.tsv")]
except FileNotFoundError:
    rows = []
if rows:
    by = collections.defaultdict(list)
    for r in rows:
        kv = dict(x.split("=", 1) for x in r[3].split())
        by[int(r[1])].append((float(kv["puts_per_s"]), float(kv["p50_us"]), float(kv["p99_us"]), r[2]))
    print("\nLog store (256-byte puts, group commit), median over rounds:\n")
    print("| clients | puts/s | p50 | p99 | segments |")
    print("|---|---|---|---|---|")
    for n in sorted(by):
        v = by[n]
        print(
            f"| {n} | {statistics.median(x[0] for x in v):.0f} | {statistics.median(x[1] for x in v) / 1000:.2f} ms"
            f" | {statistics.median(x[2] for x in v) / 1000:.2f} ms | {v[0][3]} |"
        )

if a.plot:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("matplotlib missing: pip install matplotlib (table above is complete)")
    fig, ax = plt.subplots(figsize=(11, 5))
    width = 0.8 / len(contenders)
    for i, c in enumerate(contenders):
        xs = [j + i * width for j in range(len(order))]
        ys = [med.get((w, c), 0) for w in order]
        lo = [med.get((w, c), 0) - min(iops.get((w, c), [0])) for w in order]
        hi = [max(iops.get((w, c), [0])) - med.get((w, c), 0) for w in order]
        ax.bar(xs, ys, width, label=c, yerr=[lo, hi], capsize=2)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(order))])
    ax.set_xticklabels(order, rotation=20, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("IOPS (log scale; median, bars min..max over rounds)")
    ax.set_title("ringio vs tokio::fs vs fio, 1 GiB file, one pinned core")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.plot, dpi=110)
    print(f"\nplot: {a.plot}")
