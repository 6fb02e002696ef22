// Charts: uPlot time series for the queue view, and hand-drawn canvas sparklines for the cards.
// Colours come from CSS custom properties so both themes are styled in app.css alone.

import uPlot from "uplot";
import { h } from "./dom";
import { clock, compact } from "./format";

export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** The colour with an alpha channel, for area fills; accepts #rgb / #rrggbb. */
export function withAlpha(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (!m || m[1] === undefined) return color;
  let hex = m[1];
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join("");
  const n = parseInt(hex, 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export interface SeriesSpec {
  label: string;
  /** CSS custom property holding the colour, e.g. "--c-ready" */
  color: string;
  fill?: boolean;
  dash?: boolean;
  show?: boolean;
  values: () => (number | null)[];
}

export interface ChartSpec {
  /** formats a value for the legend */
  format: (v: number) => string;
  series: SeriesSpec[];
  height: number;
}

function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
    if (step * mag >= max * 1.05) return step * mag;
  }
  return 10 * mag;
}

export class TimeChart {
  private plot: uPlot | null = null;
  private readonly resize: ResizeObserver;
  private windowSeconds = 300;
  private now = 0;
  private hidden = new Set<number>();

  constructor(
    readonly root: HTMLElement,
    private readonly spec: ChartSpec,
    private readonly xs: () => number[],
  ) {
    spec.series.forEach((s, i) => {
      if (s.show === false) this.hidden.add(i + 1);
    });
    this.resize = new ResizeObserver(() => {
      if (this.plot && this.root.clientWidth > 0) {
        this.plot.setSize({ width: this.root.clientWidth, height: this.spec.height });
      }
    });
    this.resize.observe(root);
    this.build();
  }

  private data(): uPlot.AlignedData {
    return [this.xs(), ...this.spec.series.map((s) => s.values())];
  }

  /** (Re)creates the plot, e.g. after a theme change: uPlot bakes colours in at creation. */
  build(): void {
    if (this.plot) {
      // remember which series the person toggled off in the legend
      this.hidden = new Set(this.plot.series.map((s, i) => (s.show === false ? i : -1)).filter((i) => i > 0));
      this.plot.destroy();
    }
    const axisColor = cssVar("--muted");
    const gridColor = cssVar("--grid");
    const font = `11px ${cssVar("--font-sans")}`;
    const axis = (values: uPlot.Axis.Values, size?: number): uPlot.Axis => ({
      stroke: axisColor,
      font,
      values,
      grid: { stroke: gridColor, width: 1 },
      ticks: { stroke: gridColor, width: 1, size: 4 },
      ...(size !== undefined ? { size } : {}),
    });
    const fmt = this.spec.format;
    const opts: uPlot.Options = {
      width: Math.max(200, this.root.clientWidth),
      height: this.spec.height,
      pxAlign: 0,
      cursor: { points: { size: 6 }, drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true, range: () => [this.now - this.windowSeconds, this.now] },
        y: { range: (_u, _min, max) => [0, niceMax(max)] },
      },
      axes: [
        axis(
          (_u, splits) => splits.map((v) => (this.windowSeconds <= 120 ? clock(v) : clock(v).slice(0, 5))),
          30,
        ),
        axis((_u, splits) => splits.map((v) => compact(v)), 48),
      ],
      series: [
        { value: (_u, v) => (v == null ? "–" : clock(v)) },
        ...this.spec.series.map((s, i): uPlot.Series => {
          const color = cssVar(s.color);
          return {
            label: s.label,
            stroke: color,
            width: 1.5,
            show: !this.hidden.has(i + 1),
            spanGaps: false,
            points: { show: false },
            value: (_u, v) => (v == null ? "–" : fmt(v)),
            ...(s.fill ? { fill: withAlpha(color, 0.12) } : {}),
            ...(s.dash ? { dash: [4, 3] } : {}),
          };
        }),
      ],
    };
    this.plot = new uPlot(opts, this.data(), this.root);
  }

  update(now: number, windowSeconds: number): void {
    this.now = now;
    this.windowSeconds = windowSeconds;
    const plot = this.plot;
    if (!plot) return;
    const data = this.data();
    plot.setData(data);
    // Not hovering: the legend shows the latest values instead of dashes.
    const last = data[0].length - 1;
    if (last >= 0 && (plot.cursor.left ?? -1) < 0) plot.setLegend({ idx: last });
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

export interface SparkSeries {
  values: (number | null)[];
  color: string;
  fill: boolean;
}

/** A small canvas line chart without axes: shape over the window, at a glance. */
export class Sparkline {
  readonly canvas: HTMLCanvasElement;

  constructor(label: string) {
    this.canvas = h("canvas", { class: "spark", role: "img", "aria-label": label });
  }

  draw(ts: number[], series: SparkSeries[], from: number, to: number): void {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth;
    const hgt = c.clientHeight;
    if (w === 0 || hgt === 0) return;
    const pw = Math.round(w * dpr);
    const ph = Math.round(hgt * dpr);
    if (c.width !== pw) c.width = pw;
    if (c.height !== ph) c.height = ph;
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    let max = 0;
    for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
    const top = niceMax(max);
    const pad = 2;
    const x = (t: number): number => ((t - from) / Math.max(1, to - from)) * w;
    const y = (v: number): number => hgt - pad - (v / top) * (hgt - 2 * pad);
    ctx.lineWidth = 1.5;
    ctx.lineJoin = "round";
    for (const s of series) {
      // split into runs of non-null points so gaps stay gaps
      let run: [number, number][] = [];
      const flush = (): void => {
        if (run.length === 0) return;
        const first = run[0] as [number, number];
        const last = run[run.length - 1] as [number, number];
        if (s.fill && run.length > 1) {
          ctx.beginPath();
          ctx.moveTo(first[0], hgt);
          for (const [px, py] of run) ctx.lineTo(px, py);
          ctx.lineTo(last[0], hgt);
          ctx.closePath();
          ctx.fillStyle = withAlpha(s.color, 0.18);
          ctx.fill();
        }
        ctx.beginPath();
        ctx.moveTo(first[0], first[1]);
        for (const [px, py] of run) ctx.lineTo(px, py);
        ctx.strokeStyle = s.color;
        ctx.stroke();
        run = [];
      };
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i];
        const v = s.values[i];
        if (t === undefined || t < from) continue;
        if (v === null || v === undefined) flush();
        else run.push([x(t), y(v)]);
      }
      flush();
    }
  }
}
