// Number, time and text formatting. Pure functions (unit-tested in test/format.test.ts).

const UNITS: ReadonlyArray<[number, string]> = [
  [1e12, "T"],
  [1e9, "G"],
  [1e6, "M"],
  [1e3, "k"],
];

function trimZero(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

/** 0, 999, 1.2k, 12k, 123k, 1.2M … — short enough for a glance and a narrow column. */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const sign = n < 0 ? "-" : "";
  const a = Math.abs(n);
  if (a < 1000) {
    if (Number.isInteger(a)) return sign + String(a);
    return sign + trimZero(a < 10 ? a.toFixed(1) : a.toFixed(0));
  }
  for (const [size, unit] of UNITS) {
    if (a >= size * 0.9995) {
      const v = a / size;
      // At most four characters before the unit: 1.2k, 12k, 123k. The 0.9995 threshold
      // promotes 999.6k to 1M instead of printing "1000k".
      const s = v >= 9.995 ? v.toFixed(0) : v.toFixed(1);
      return sign + trimZero(s) + unit;
    }
  }
  return sign + String(Math.round(a));
}

/** A per-second rate: 0/s, 0.4/s, 12/s, 1.2k/s. */
export function rate(perSecond: number | null): string {
  if (perSecond === null || !Number.isFinite(perSecond)) return "–/s";
  if (perSecond <= 0) return "0/s";
  if (perSecond < 0.05) return "<0.1/s";
  if (perSecond < 10) return trimZero(perSecond.toFixed(1)) + "/s";
  if (perSecond < 1000) return Math.round(perSecond).toString() + "/s";
  return compact(perSecond) + "/s";
}

/** 1,234,567 — exact, for titles and tooltips. */
export function exact(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** "3s", "4m 12s", "2h 5m", "3d 4h". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const hh = Math.floor(m / 60);
  if (hh < 24) return m % 60 ? `${hh}h ${m % 60}m` : `${hh}h`;
  const d = Math.floor(hh / 24);
  return hh % 24 ? `${d}d ${hh % 24}h` : `${d}d`;
}

/** "12s ago", "in 3m", "just now". Both arguments are unix seconds. */
export function relative(ts: number, now: number): string {
  const diff = now - ts;
  if (Math.abs(diff) < 1.5) return "just now";
  return diff > 0 ? `${duration(diff)} ago` : `in ${duration(-diff)}`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** Local time as "2024-05-01 13:04:05". */
export function timestamp(ts: number): string {
  const d = new Date(ts * 1000);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Local time of day as "13:04:05". */
export function clock(ts: number): string {
  const d = new Date(ts * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${trimZero((n / 1024).toFixed(1))} KB`;
  return `${trimZero((n / 1024 / 1024).toFixed(1))} MB`;
}

/** Pretty-printed JSON (2-space indent); never throws. */
export function prettyJson(value: unknown): string {
  try {
    const s = JSON.stringify(value, null, 2);
    return s === undefined ? "null" : s;
  } catch {
    return String(value);
  }
}

export interface Clipped {
  text: string;
  clipped: boolean;
  lines: number;
}

/** The head of `text`: at most `maxLines` lines and `maxChars` characters. */
export function clip(text: string, maxLines: number, maxChars: number): Clipped {
  const lines = text.split("\n");
  let out = lines.length > maxLines ? lines.slice(0, maxLines).join("\n") : text;
  if (out.length > maxChars) out = out.slice(0, maxChars);
  const clipped = out.length < text.length;
  return { text: clipped ? out.replace(/\s+$/, "") + " …" : text, clipped, lines: lines.length };
}

/**
 * The line of an error worth reading first: for a Python traceback its last line (the exception
 * itself), otherwise the first line.
 */
export function errorSummary(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const first = lines[0];
  if (first === undefined || lines.length === 1) return text.trim();
  if (/^Traceback \(most recent call last\):/.test(first)) return (lines[lines.length - 1] ?? first).trim();
  return first.trim();
}
