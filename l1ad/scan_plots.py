"""Scan plots: physics against hardware cost, with the Pareto front marked."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from l1ad.common.style import COLORS, figure, save, styled

SIGNAL_KEYS = ("t", "w", "z")


def pareto_front(cost, gain) -> list[int]:
    """Indices of points no other point beats in both lower cost and higher gain."""
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -gain[i]))
    front, best = [], -float("inf")
    for i in order:
        if gain[i] > best:
            front.append(i)
            best = gain[i]
    return front


def as_good_as(row, reference, prefix: str = "sel_") -> bool:
    """Equal physics, the rule choices are made by: for every signal, the point's seed means of AUC and of the
    efficiency at background 1e-3 (``prefix`` ``sel_``: on the selection half) are at least the reference's seed
    means minus one reference seed spread (sample std). Higher is never held against a point."""
    for signal in SIGNAL_KEYS:
        for name in ("auc", "eff1e-3"):
            key = f"{prefix}{name}_{signal}_seed_"
            value = row.get(key + "mean")
            if value is None or value != value or value < reference[key + "mean"] - reference[key + "std"]:
                return False  # a missing (NaN) mean never qualifies
    return True


def plot_scan(table: pd.DataFrame, grid: dict, out: Path) -> list[Path]:
    ok = table[table["status"] == "ok"] if "status" in table else table
    if ok.empty or "LUT" not in ok or ok["LUT"].isna().all():
        return []
    paths = [_versus(ok, "LUT", "LUTs (yosys, xcup)", out / "efficiency_vs_luts.png", pareto=True),
             _versus(ok, "latency_cycles", "latency (clock cycles, Verilator)", out / "efficiency_vs_latency.png")]
    if "cfg:point" in ok:
        paths.append(_auc_by_point(ok, out / "auc_by_point.png"))
    elif grid.get("grid"):
        first_key = next(iter(grid["grid"]))
        if all(isinstance(v, (int, float)) for v in ok[f"cfg:{first_key}"]):
            paths.append(_auc_vs(ok, f"cfg:{first_key}", first_key, out / "auc_vs_bits.png"))
    return paths


@styled
def _auc_by_point(ok: pd.DataFrame, path: Path) -> Path:
    """AUC per signal and scan point (QKeras, 95% CL), points labelled."""
    fig, ax = figure(figsize=(8, 0.45 * len(ok) + 1.5))
    y = np.arange(len(ok))
    for k, signal in enumerate(SIGNAL_KEYS):
        auc = ok[f"auc_{signal}_qkeras"].to_numpy(float)
        err = np.vstack([auc - ok[f"auc_{signal}_qkeras_low"].to_numpy(float), ok[f"auc_{signal}_qkeras_high"].to_numpy(float) - auc])
        ax.errorbar(auc, y + (k - 1) * 0.22, xerr=err, fmt="o", ms=4, color=COLORS[signal], label=f"{signal} jets")
    ax.set_yticks(y, ok["cfg:point"].astype(str), fontsize="x-small")
    ax.invert_yaxis()
    ax.set_xlabel("ROC AUC of the on-chip score (QKeras, 95% CL)")
    ax.legend(fontsize="x-small")
    return save(fig, path)


def short_name(key: str) -> str:
    """'quantization.weights.bits,quantization.biases.bits' -> 'weights/biases bits'."""
    fields = [f.strip().split(".") for f in key.split(",")]
    if all(len(f) > 1 and f[-1] == "bits" for f in fields):
        return "/".join(f[-2] for f in fields) + " bits"
    return "/".join(f[-1] for f in fields)


def caption(row) -> str:
    """A point's settings, short: a fixed-point format {'bits': 8, 'integer': 4} as <8,4>, a label without a long
    closing parenthesis (its table row keeps it)."""
    return "/".join(_LONG_ASIDE.sub("", short_value(row[c])) for c in row.index if c.startswith("cfg:") and row[c] == row[c])


def short_value(value) -> str:
    return _FORMAT.sub(r"<\1,\2>", str(value))


_FORMAT = re.compile(r"\{'bits': (\d+), 'integer': (-?\d+)\}")  # a fixed-point format as a grid writes it
_LONG_ASIDE = re.compile(r" \([^()]{13,}\)$")  # "previous default (constant rate, ...)": "(default)" stays


def _legend_title(ok: pd.DataFrame) -> str:
    return "labels: " + " / ".join(short_name(c[4:]) for c in ok.columns if c.startswith("cfg:"))


@styled
def _versus(ok: pd.DataFrame, cost: str, xlabel: str, path: Path, pareto: bool = False) -> Path:
    fig, axes = figure(1, len(SIGNAL_KEYS), figsize=(7 * len(SIGNAL_KEYS), 5.5), sharey=False)
    for ax, signal in zip(axes, SIGNAL_KEYS):
        x, y = ok[cost].to_numpy(float), ok[f"eff1e-3_{signal}_qkeras"].to_numpy(float)
        low, high = f"eff1e-3_{signal}_qkeras_low", f"eff1e-3_{signal}_qkeras_high"
        yerr = np.vstack([y - ok[low].to_numpy(float), ok[high].to_numpy(float) - y]) if low in ok else None
        ax.errorbar(x, y, yerr=yerr, fmt="o", color=COLORS[signal], ms=5, capsize=2, label="scan points (95% CL)")
        log = cost == "LUT" and x.max() > 5 * x.min()  # scans span cheap score heads and whole autoencoders
        if log:
            ax.set_xscale("log")
        if pareto:
            front = pareto_front(list(x), list(y))
            ax.plot(x[front], y[front], "o-", color="black", mfc="none", ms=9, lw=1, label="Pareto front")
            middle = np.sqrt(x.min() * x.max()) if log else (x.min() + x.max()) / 2
            for i in front:  # labels of the right half's points run leftwards above them: inside the panel, off
                right = x[i] > middle  # the labels below the left half's
                ax.annotate(caption(ok.iloc[i]), (x[i], y[i]), fontsize="xx-small", xytext=(-4, 6) if right else (4, -10),
                            textcoords="offset points", ha="right" if right else "left")
        ax.set_title(f"{signal} jets", fontsize="small")
        ax.set_xlabel(xlabel, fontsize="small")
        ax.tick_params(labelsize="x-small")
    axes[0].set_ylabel("signal eff. at background 1e-3 (QKeras)", fontsize="small")
    handles, labels = axes[0].get_legend_handles_labels()  # below the panels: never over a point
    fig.legend(handles, labels, fontsize="x-small", loc="upper center", ncol=len(labels), bbox_to_anchor=(0.5, 0.0),
               title=_legend_title(ok) if pareto else None, title_fontsize="x-small")
    fig.subplots_adjust(wspace=0.25, bottom=0.2)
    return save(fig, path)


@styled
def _auc_vs(ok: pd.DataFrame, column: str, name: str, path: Path) -> Path:
    fig, ax = figure(figsize=(7, 5))
    for signal in SIGNAL_KEYS:
        grouped = ok.groupby(column)[f"auc_{signal}_qkeras"]
        ax.errorbar(grouped.mean().index, grouped.mean(), yerr=np.nan_to_num(grouped.std()), marker="o",
                    color=COLORS[signal], label=f"{signal} (QKeras)", capsize=3)
        ax.plot(grouped.mean().index, ok.groupby(column)[f"auc_{signal}_float"].mean(), ls="--", color=COLORS[signal],
                alpha=0.6, label=f"{signal} (float)")
    ax.set(xlabel=short_name(name), ylabel="ROC AUC")
    ax.legend(fontsize="x-small", ncol=2)
    return save(fig, path)


def _report_point(figures, signal: str) -> tuple[float | None, float | None]:
    """(efficiency at background 1e-3, AUC) of one signal in a record's figures (None if absent)."""
    entry = figures.signals.get(signal) if figures is not None else None
    if entry is None:
        return None, None
    at = entry.at_background_efficiency.get("1e-03")
    return (at.signal_efficiency if at else None), entry.auc


@styled
def pareto_figure(tables: dict[str, pd.DataFrame], report, path: Path) -> Path:
    """Per signal, efficiency at background 1e-3 and AUC against yosys LUTs: every bit-exact point of every scan, the
    Pareto front over all of them, the default run and its baselines (the off-chip ones as horizontal lines)."""
    points = pd.concat([t[t["status"] == "ok"].copy().assign(scan=name) for name, t in tables.items()],  # copies:
                       ignore_index=True)  # whole frames, not the many-column results pandas warns about
    fig, axes = figure(2, len(SIGNAL_KEYS), figsize=(6.5 * len(SIGNAL_KEYS), 10))
    default_lut = next((r.LUT for r in report.hardware if r.source.startswith("Verilator")), None)
    baselines, costs = report.baselines or {}, report.baseline_costs
    default = getattr(report.physics, "csim", None)  # the report's record: the default's C simulation
    for col, signal in enumerate(SIGNAL_KEYS):
        for row, (metric, label) in enumerate(((f"eff1e-3_{signal}_qkeras", "signal eff. @ bkg 1e-3"),
                                               (f"auc_{signal}_qkeras", "ROC AUC"))):
            ax = axes[row, col]
            for k, (name, part) in enumerate(points.groupby("scan", sort=False)):
                ax.plot(part["LUT"], part[metric], "o", ms=5, color=f"C{k}", alpha=0.8, label=f"scan {name}")
            x, y = points["LUT"].to_numpy(float), points[metric].to_numpy(float)
            front = pareto_front(list(x), list(y))
            ax.plot(x[front], y[front], "-", color="black", lw=1, label="Pareto front")
            pick = 0 if row == 0 else 1
            mine = _report_point(default, signal)[pick]
            if default_lut and mine is not None:
                ax.plot(default_lut, mine, "*", ms=16, color=COLORS[signal], mec="black", label="default (csim)")
            for k, (name, physics) in enumerate(baselines.items()):
                value = _report_point(physics, signal)[pick]
                cost = costs[name].LUT if name in costs else None
                if value is None:
                    continue
                if cost:
                    ax.plot(cost, value, "D", ms=9, color="white", mec="black", label=name)
                else:
                    ax.axhline(value, ls=STYLE_OF_BASELINE[k % len(STYLE_OF_BASELINE)], color="grey", lw=1.2, label=name)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)  # 500, 1,000, 2,000: mathtext minor labels (4x10^2 ...) run into each other
            ax.set_xlabel("LUTs (yosys, xcup)", fontsize="small")
            if ax is axes[row, 0]:  # one label per row, broken in two: a long one runs into the row below
                ax.set_ylabel(f"{label}\n(QKeras = csim)", fontsize="small")
            ax.set_title(f"{signal} jets", fontsize="small")
            ax.tick_params(labelsize="x-small")
            if row == 0:
                ax.set_yscale("log")
    handles, labels = axes[0, 0].get_legend_handles_labels()  # below the panels: never over a point
    fig.legend(handles, labels, fontsize="x-small", loc="lower center", ncol=min(4, len(labels)),
               bbox_to_anchor=(0.5, 0.0))
    fig.subplots_adjust(wspace=0.3, hspace=0.45, bottom=0.2)
    return save(fig, path)


def _plain_log_ticks(axis) -> None:
    """Major ticks at 1, 2 and 5 times powers of ten, written as plain numbers; no minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    axis.set_minor_formatter(NullFormatter())


STYLE_OF_BASELINE = ["--", ":", "-."]
