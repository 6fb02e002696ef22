import assert from "node:assert/strict";
import { test } from "node:test";
import { clip, compact, duration, errorSummary, prettyJson, rate, relative } from "../src/format";

test("compact numbers", () => {
  const cases: Array<[number, string]> = [
    [0, "0"],
    [7, "7"],
    [999, "999"],
    [1000, "1k"],
    [1234, "1.2k"],
    [9999, "10k"],
    [12345, "12k"],
    [16508, "17k"],
    [123456, "123k"],
    [999499, "999k"],
    [999600, "1M"],
    [1_250_000, "1.3M"],
    [3_000_000_000, "3G"],
    [-1500, "-1.5k"],
    [2.5, "2.5"],
  ];
  for (const [n, want] of cases) assert.equal(compact(n), want, `compact(${n})`);
});

test("rates", () => {
  assert.equal(rate(null), "–/s");
  assert.equal(rate(0), "0/s");
  assert.equal(rate(0.01), "<0.1/s");
  assert.equal(rate(0.4), "0.4/s");
  assert.equal(rate(3), "3/s");
  assert.equal(rate(9.25), "9.3/s");
  assert.equal(rate(42.4), "42/s");
  assert.equal(rate(1234), "1.2k/s");
  assert.equal(rate(Number.NaN), "–/s");
});

test("durations and relative times", () => {
  assert.equal(duration(0), "0s");
  assert.equal(duration(59), "59s");
  assert.equal(duration(60), "1m");
  assert.equal(duration(252), "4m 12s");
  assert.equal(duration(7500), "2h 5m");
  assert.equal(duration(3 * 86400 + 4 * 3600), "3d 4h");
  assert.equal(relative(100, 100.5), "just now");
  assert.equal(relative(100, 112), "12s ago");
  assert.equal(relative(280, 100), "in 3m");
});

test("clip keeps the head and says so", () => {
  const text = Array.from({ length: 10 }, (_, i) => `line ${i}`).join("\n");
  const c = clip(text, 3, 1000);
  assert.equal(c.clipped, true);
  assert.equal(c.lines, 10);
  assert.equal(c.text, "line 0\nline 1\nline 2 …");
  assert.deepEqual(clip("short", 3, 100), { text: "short", clipped: false, lines: 1 });
  assert.equal(clip("x".repeat(50), 3, 10).text, "x".repeat(10) + " …");
});

test("error summary picks the exception line of a traceback", () => {
  const tb = 'Traceback (most recent call last):\n  File "a.py", line 1, in f\n    g()\nValueError: bad input\n';
  assert.equal(errorSummary(tb), "ValueError: bad input");
  assert.equal(errorSummary("TimeoutError: handler exceeded 300s"), "TimeoutError: handler exceeded 300s");
  assert.equal(errorSummary("first\nsecond"), "first");
});

test("pretty JSON", () => {
  assert.equal(prettyJson({ a: [1, "<b>"] }), '{\n  "a": [\n    1,\n    "<b>"\n  ]\n}');
  assert.equal(prettyJson(undefined), "null");
});
