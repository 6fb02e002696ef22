// Builds the dashboard into python/relay/http/static/ (committed, so the wheel needs no Node).
//
//   node build.mjs           write app.js, app.css, index.html and favicon.svg
//   node build.mjs --check   build in memory and exit 1 if the committed files differ (CI)
//   node build.mjs --test    bundle test/*.test.ts into .test-build/ for `node --test`
//
// The output must be byte-identical for identical input: no timestamps, no banner, no source
// maps (they would carry absolute paths), pinned tool versions (package-lock.json), and the
// cache-busting query in index.html is a hash of the bundle's own bytes.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "python", "relay", "http", "static");
const args = new Set(process.argv.slice(2));

const common = {
  bundle: true,
  minify: true,
  write: false,
  sourcemap: false,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
  absWorkingDir: here,
  target: ["es2021", "chrome100", "firefox100", "safari15"],
};

async function buildOne(options) {
  const result = await esbuild.build({ ...common, ...options });
  if (result.outputFiles.length !== 1) {
    throw new Error(`expected one output file, got ${result.outputFiles.length}`);
  }
  return result.outputFiles[0].text;
}

function shortHash(text) {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

async function buildAll() {
  const js = await buildOne({
    entryPoints: ["src/main.ts"],
    outfile: "app.js",
    format: "iife",
    platform: "browser",
  });
  const css = await buildOne({
    entryPoints: ["src/styles.css"],
    outfile: "app.css",
    loader: { ".css": "css" },
  });
  let html = readFileSync(join(here, "src", "index.html"), "utf8");
  const refs = [
    ["/static/app.css", css],
    ["/static/app.js", js],
  ];
  for (const [url, body] of refs) {
    if (!html.includes(`"${url}"`)) throw new Error(`index.html must reference "${url}"`);
    html = html.replace(`"${url}"`, `"${url}?v=${shortHash(body)}"`);
  }
  const favicon = readFileSync(join(here, "src", "favicon.svg"), "utf8");
  return { "app.js": js, "app.css": css, "index.html": html, "favicon.svg": favicon };
}

async function buildTests() {
  const testDir = join(here, "test");
  const outTests = join(here, ".test-build");
  rmSync(outTests, { recursive: true, force: true });
  const entries = readdirSync(testDir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join("test", f));
  await esbuild.build({
    ...common,
    minify: false,
    write: true,
    entryPoints: entries,
    outdir: outTests,
    outExtension: { ".js": ".mjs" },
    format: "esm",
    platform: "node",
    target: "node18",
  });
}

async function main() {
  if (args.has("--test")) {
    await buildTests();
    return;
  }
  const files = await buildAll();
  if (args.has("--check")) {
    const stale = Object.entries(files)
      .filter(([name, body]) => {
        const path = join(outDir, name);
        return !existsSync(path) || readFileSync(path, "utf8") !== body;
      })
      .map(([name]) => name);
    if (stale.length > 0) {
      console.error(
        `stale dashboard bundle in ${relative(process.cwd(), outDir)}: ${stale.join(", ")}\n` +
          "run `make web` (or `cd web && npm ci && npm run build`) and commit the result",
      );
      process.exit(1);
    }
    console.log("dashboard bundle is up to date");
    return;
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(outDir, name), body);
  }
  const sizes = Object.entries(files)
    .map(([name, body]) => `${name} ${(Buffer.byteLength(body) / 1024).toFixed(1)} KiB`)
    .join(", ");
  console.log(`built ${relative(process.cwd(), outDir)}: ${sizes}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
