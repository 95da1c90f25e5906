#!/usr/bin/env python3
"""Plots a net_compare.sh (or compat_compare.sh) run: req/s by cell, one bar
per contender, as a ratio to tokio (medians over rounds; the bar's label is
the median req/s), the fixed-rate CPU per request, and, if the run measured
it, memory per idle connection. Also prints the markdown tables quoted in
docs/performance.md. Needs matplotlib.

    python3 benches/scripts/net_plot.py target/net-compare/<run> --plot docs/net-bench/net.png
"""
import argparse
import collections
import os
import statistics

p = argparse.ArgumentParser()
p.add_argument("out", help="the run's output directory (holds results.tsv, idle.tsv)")
p.add_argument("--plot", help="write a PNG here")
p.add_argument("--target", type=float, default=1.15, help="req/s ratio to tokio drawn as the target line")
p.add_argument("--title", default="", help="prefix of every panel's title")
a = p.parse_args()

rows = collections.defaultdict(lambda: collections.defaultdict(list))
order, contenders = [], []
for line in open(os.path.join(a.out, "results.tsv")):
    f = line.rstrip("\n").split("\t")
    w, c = f[1], f[2]
    rows[w][c].append((float(f[4]), float(f[8]) if f[8] not in ("", "null") else None))
    if w not in order:
        order.append(w)
    if c not in contenders:
        contenders.append(c)

idle = collections.defaultdict(list)
idle_path = os.path.join(a.out, "idle.tsv")
if os.path.exists(idle_path):
    for line in open(idle_path):
        f = line.rstrip("\n").split("\t")
        idle[f[1]].append(float(f[4]))
        if f[1] not in contenders:
            contenders.append(f[1])


def med(w, c, i):
    vals = [r[i] for r in rows[w].get(c, []) if r[i] is not None]
    return statistics.median(vals) if vals else None


cells = [w for w in order if not w.endswith("-rate")]
rates = [w for w in order if w.endswith("-rate")]

print("req/s, median over rounds (ratio to tokio):\n")
print("| cell | " + " | ".join(contenders) + " |")
print("|---|" + "---|" * len(contenders))
for w in cells:
    t = med(w, "tokio", 0)
    out = []
    for c in contenders:
        v = med(w, c, 0)
        out.append("-" if v is None else f"{v:,.0f} ({v / t:.2f}x)" if t else f"{v:,.0f}")
    print(f"| {w} | " + " | ".join(out) + " |")
if rates:
    print("\nserver CPU µs per request at a fixed rate (ratio to tokio):\n")
    print("| workload | " + " | ".join(contenders) + " |")
    print("|---|" + "---|" * len(contenders))
    for w in rates:
        t = med(w, "tokio", 1)
        out = []
        for c in contenders:
            v = med(w, c, 1)
            out.append("-" if v is None else f"{v:.2f} ({v / t:.2f}x)" if t else f"{v:.2f}")
        print(f"| {w} | " + " | ".join(out) + " |")
if idle:
    print("\nbytes of resident memory per idle connection (median over rounds):\n")
    print("| " + " | ".join(idle) + " |")
    print("|" + "---|" * len(idle))
    print("| " + " | ".join(f"{statistics.median(v):,.0f}" for v in idle.values()) + " |")

if a.plot:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protos = list(dict.fromkeys(w.split("-", 1)[0] for w in cells))  # echo, http, proxy: as they came
    panels = [(p, [w for w in cells if w.split("-", 1)[0] == p]) for p in protos]
    extra = int(bool(rates)) + int(bool(idle))
    fig, axes = plt.subplots(len(panels) + extra, 1, figsize=(12, 3.6 * (len(panels) + extra)), squeeze=False)
    axes = [ax for row in axes for ax in row]
    width = 0.8 / len(contenders)
    for ax, (name, ws) in zip(axes, panels):
        for j, c in enumerate(contenders):
            xs, ys, labels = [], [], []
            for i, w in enumerate(ws):
                v, t = med(w, c, 0), med(w, "tokio", 0)
                if v is None or not t:
                    continue
                xs.append(i + (j - (len(contenders) - 1) / 2) * width)
                ys.append(v / t)
                labels.append(f"{v / 1000:.1f}k")
            if not xs:
                continue  # this contender does not serve this protocol
            bars = ax.bar(xs, ys, width, label=c, color=f"C{j}")
            ax.bar_label(bars, labels, fontsize=6, rotation=90, padding=2)
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.axhline(a.target, color="red", lw=0.8, ls="--", label=f"target {a.target:.2f}x")
        ax.set_xticks(range(len(ws)), [w.split("-", 1)[1] for w in ws])
        ax.set_ylabel("req/s / tokio")
        ax.set_title(f"{a.title}{name}: req/s by cell (connections-size), ratio to tokio; labels: req/s")
        ax.legend(fontsize=7, ncol=len(contenders) + 1)
        ax.set_ylim(0, max(1.6, ax.get_ylim()[1] * 1.1))
    k = len(panels)
    if rates:
        ax = axes[k]
        k += 1
        for j, c in enumerate(contenders):
            xs, ys = [], []
            for i, w in enumerate(rates):
                v = med(w, c, 1)
                if v is not None:
                    xs.append(i + (j - (len(contenders) - 1) / 2) * width)
                    ys.append(v)
            bars = ax.bar(xs, ys, width, label=c, color=f"C{j}")
            ax.bar_label(bars, [f"{y:.1f}" for y in ys], fontsize=7)
        ax.set_xticks(range(len(rates)), rates)
        ax.set_ylabel("server CPU µs / request")
        ax.set_title("CPU per request at a fixed rate (lower is better)")
        ax.legend(fontsize=7)
    if idle:
        ax = axes[k]
        names = list(idle)
        ys = [statistics.median(idle[n]) for n in names]
        bars = ax.bar(names, ys, color=[f"C{contenders.index(n)}" for n in names])
        ax.bar_label(bars, [f"{y:,.0f} B" for y in ys], fontsize=8)
        ax.axhline(1000, color="red", lw=0.8, ls="--", label="target 1 KB")
        ax.set_ylabel("bytes")
        ax.set_title("resident memory per idle connection (lower is better)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.plot, dpi=110)
    print(f"\nplot: {a.plot}")
