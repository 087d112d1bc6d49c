// Builds the console's third-party assets from the packages pinned in package-lock.json.
//
// The console is served on an offline government network under a strict Content-Security-Policy
// (script-src 'self'), so every script is a file Anbao serves itself. This script writes them,
// laid out as in the repository, under the folder given by --out (default: ./out):
//
//   anbao/console/static/vendor/htmx.min.js     htmx.org's own minified dist, unchanged
//   anbao/console/static/vendor/echarts.min.js  a tree-shaken ECharts: only what the dashboards
//                                               draw (IIFE, window.echarts)
//   tests/journeys/console/axe.min.js           axe-core's dist, for the accessibility tests only
//   anbao/console/static/vendor/MANIFEST.json   each file's package, version and sha256
//
// Run by `make console-assets` (npm ci in a cache folder outside the repository, then this
// script, then the outputs copied back); `npm run build -- --out DIR` by hand does the same.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";

import * as esbuild from "esbuild";

const { values: args } = parseArgs({ options: { out: { type: "string", default: "out" } } });
const OUT = args.out;
const VENDOR = "anbao/console/static/vendor";

// What the dashboards draw (issue 19, Overview): bars, lines, pies with a grid, tooltip, legend,
// title and zoom on the time axis, on a canvas. A chart type or component missing here throws
// a readable error in the browser ("Series xxx is used but not imported"): add it here.
const ECHARTS_ENTRY = `
import { use } from "echarts/core";
import { BarChart, LineChart, PieChart } from "echarts/charts";
import {
  DataZoomComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent,
} from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";
use([
  BarChart, LineChart, PieChart,
  DataZoomComponent, GridComponent, LegendComponent, TitleComponent, TooltipComponent,
  CanvasRenderer,
]);
export * from "echarts/core";
`;

// Versions are the lockfile's (what `npm ci` installed), read for each package at the top of
// node_modules, where esbuild resolves them.
const LOCK = JSON.parse(readFileSync("package-lock.json", "utf8"));

function locked(name) {
  const entry = LOCK.packages[`node_modules/${name}`];
  if (!entry) throw new Error(`${name} is not in package-lock.json`);
  return entry;
}

function packageVersion(name) {
  return locked(name).version;
}

function packageLicense(name) {
  return locked(name).license;
}

function packageFile(name, relative) {
  return join("node_modules", name, relative);
}

function sha256(path) {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function copyDist(name, relative, target) {
  mkdirSync(dirname(join(OUT, target)), { recursive: true });
  copyFileSync(packageFile(name, relative), join(OUT, target));
  return { package: name, version: packageVersion(name), source: relative };
}

async function buildEcharts(target) {
  const versions = ["echarts", "zrender", "tslib"].map((n) => `${n} ${packageVersion(n)}`);
  const banner =
    `/*! Apache ECharts ${packageVersion("echarts")} (Apache-2.0, see its NOTICE): Anbao's ` +
    `custom build (bar, line, pie; grid, tooltip, legend, title, dataZoom; canvas) of ` +
    `${versions.join(", ")} by esbuild ${esbuild.version} */`;
  await esbuild.build({
    stdin: { contents: ECHARTS_ENTRY, resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    format: "iife",
    globalName: "echarts",
    minify: true,
    treeShaking: true,
    // ECharts' development warnings are behind this check; the full dist drops them too.
    define: { "process.env.NODE_ENV": '"production"' },
    target: ["es2018"],
    legalComments: "none",
    banner: { js: banner },
    outfile: join(OUT, target),
    logLevel: "warning",
  });
  return {
    package: "echarts",
    version: packageVersion("echarts"),
    source: "esbuild bundle of echarts/core, charts, components, renderers (build.mjs)",
    bundled: { zrender: packageVersion("zrender"), tslib: packageVersion("tslib") },
    esbuild: esbuild.version,
    full_dist_bytes: readFileSync(packageFile("echarts", "dist/echarts.min.js")).length,
  };
}

async function main() {
  rmSync(OUT, { recursive: true, force: true });
  const files = {
    [`${VENDOR}/htmx.min.js`]: copyDist("htmx.org", "dist/htmx.min.js", `${VENDOR}/htmx.min.js`),
    [`${VENDOR}/echarts.min.js`]: await buildEcharts(`${VENDOR}/echarts.min.js`),
    "tests/journeys/console/axe.min.js": copyDist(
      "axe-core",
      "axe.min.js",
      "tests/journeys/console/axe.min.js",
    ),
  };
  for (const [path, entry] of Object.entries(files)) {
    entry.license = packageLicense(entry.package);
    entry.bytes = readFileSync(join(OUT, path)).length;
    entry.sha256 = sha256(join(OUT, path));
  }
  const manifest = {
    comment: "Written by anbao/console/assets/build.mjs (make console-assets); do not edit.",
    lockfile_sha256: sha256("package-lock.json"),
    files,
  };
  writeFileSync(join(OUT, VENDOR, "MANIFEST.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [path, entry] of Object.entries(files)) {
    console.log(`${path}  ${entry.package}@${entry.version}  ${entry.bytes} bytes`);
  }
}

await main();
