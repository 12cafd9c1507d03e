#!/usr/bin/env python3
"""Plots an offered-load sweep (BENCHMARKS.md) as a standalone SVG: achieved appends/s and p99
latency (log scale) against the offered rate, one line per build.

Input lines: `<build> <offered/s> <achieved/s> <p99 ms> <errors>` (scripts in BENCHMARKS.md).
Usage: scripts/plot-sweep.py docs/profiles/offered-load-sweep.txt > docs/profiles/offered-load.svg
"""
import math
import sys

rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
builds = []
for r in rows:
    if r[0] not in builds:
        builds.append(r[0])
data = {b: [(float(r[1]), float(r[2]), float(r[3])) for r in rows if r[0] == b] for b in builds}
colours = ["#c0392b", "#2471a3", "#239b56", "#7d3c98"]
W, H, M = 420, 300, 55
x_max = max(p[0] for pts in data.values() for p in pts)


def panel(ox, title, y_of, y_ticks, y_label):
    out = [f'<g transform="translate({ox},0)">',
           f'<text x="{W/2}" y="18" text-anchor="middle" font-weight="bold">{title}</text>',
           f'<line x1="{M}" y1="{H-M}" x2="{W-15}" y2="{H-M}" stroke="#333"/>',
           f'<line x1="{M}" y1="30" x2="{M}" y2="{H-M}" stroke="#333"/>',
           f'<text x="{W/2}" y="{H-15}" text-anchor="middle">offered appends/s</text>',
           f'<text transform="translate(14,{H/2}) rotate(-90)" text-anchor="middle">{y_label}</text>']
    sx = lambda x: M + (W - 15 - M) * x / x_max
    for t in range(0, int(x_max) + 1, 2000):
        out.append(f'<line x1="{sx(t):.1f}" y1="{H-M}" x2="{sx(t):.1f}" y2="{H-M+4}" stroke="#333"/>'
                   f'<text x="{sx(t):.1f}" y="{H-M+16}" text-anchor="middle" font-size="10">{t//1000}k</text>')
    for value, text in y_ticks:
        y = y_of(value)
        out.append(f'<line x1="{M-4}" y1="{y:.1f}" x2="{W-15}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{M-6}" y="{y+3:.1f}" text-anchor="end" font-size="10">{text}</text>')
    out.append("</g>")
    return out, sx


def svg():
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{2*W}" height="{H+20}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="#fff"/>']
    top = max(p[1] for pts in data.values() for p in pts)
    y1 = lambda v: (H - M) - (H - M - 30) * v / (math.ceil(top / 2000) * 2000)
    ticks1 = [(v, f"{v//1000}k") for v in range(0, math.ceil(top / 2000) * 2000 + 1, 2000)]
    p1, sx = panel(0, "achieved appends/s", y1, ticks1, "appends/s")
    out += p1
    lo, hi = 1.0, 10 ** math.ceil(math.log10(max(p[2] for pts in data.values() for p in pts)))
    y2 = lambda v: (H - M) - (H - M - 30) * (math.log10(max(v, lo)) - 0) / math.log10(hi)
    ticks2 = [(10 ** k, f"{10**k:g} ms") for k in range(0, int(math.log10(hi)) + 1)]
    p2, _ = panel(W, "p99 latency (log)", y2, ticks2, "p99")
    out += p2
    for i, b in enumerate(builds):
        c = colours[i % len(colours)]
        line1 = " ".join(f"{sx(x):.1f},{y1(a):.1f}" for x, a, _ in data[b])
        line2 = " ".join(f"{W + sx(x):.1f},{y2(p):.1f}" for x, _, p in data[b])
        out.append(f'<polyline points="{line1}" fill="none" stroke="{c}" stroke-width="2"/>')
        out.append(f'<polyline points="{line2}" fill="none" stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{M+10}" y="{40+16*i}" fill="{c}">{b}</text>')
    x50 = W + M
    out.append(f'<line x1="{x50}" y1="{y2(50):.1f}" x2="{2*W-15}" y2="{y2(50):.1f}" stroke="#999" stroke-dasharray="4 3"/>'
               f'<text x="{2*W-18}" y="{y2(50)-4:.1f}" text-anchor="end" font-size="10" fill="#666">50 ms goal</text>')
    out.append("</svg>")
    return "\n".join(out)


print(svg())
