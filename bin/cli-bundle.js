// The CLI's start-up cache (docs/adr/0040). Run from source through tsx, every `lotline` command paid
// about a second before doing anything: tsx hashing and looking up about a hundred TypeScript files,
// Node compiling each one, and, on a fresh machine, esbuild transforming them again at every start (tsx
// writes its transform cache asynchronously, and a command that exits at once never finishes writing
// it). This file bundles the CLI's sources into one CommonJS file under node_modules/.cache on first
// use, and loads that file while every source it was built from is unchanged (modification time and
// size of each, checked with one stat per file). Packages stay external: node_modules is loaded as
// usual. The commands that run the node itself (up, deploy, index, besu-genesis) keep running from
// source, as do the worker threads any command starts.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const ENTRY = path.join(ROOT, "services", "cli", "main.ts");
/** Besides the bundled sources: files that change how the sources compile or what they read. */
const EXTRA_INPUTS = ["package.json", "tsconfig.json", "bin/cli-bundle.js"];
/** main.ts's lazily required modules of the node's own commands: never bundled (they run from source). */
const NODE_COMMAND_MODULES = /^(\.\/up|\.\/deploy|\.\/index-cmd|\.\.\/chain\/besu)$/;
/** The commands that load those modules. */
const NODE_COMMANDS = new Set(["up", "deploy", "index", "besu-genesis"]);

// One cache entry per checkout (git worktrees may share one node_modules), named by the checkout's path.
const CACHE_DIR = process.env.LOTLINE_CLI_CACHE_DIR || path.join(ROOT, "node_modules", ".cache", "lotline-cli");
const KEY = crypto.createHash("sha256").update(ROOT).digest("hex").slice(0, 12);
const BUNDLE = path.join(CACHE_DIR, `cli-${KEY}.js`);
const MANIFEST = path.join(CACHE_DIR, `cli-${KEY}.inputs.json`);

/** The command a `lotline` argument list runs: its first argument that is not an option. */
function commandOf(args) {
  return args.find((arg) => !arg.startsWith("-"));
}

function stamp(file) {
  const stat = fs.statSync(path.join(ROOT, file));
  return [stat.mtimeMs, stat.size];
}

/** True when the bundle exists and every input it was built from is as it was then. */
function isFresh() {
  let manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(MANIFEST, "utf8"));
  } catch {
    return false;
  }
  if (manifest.node !== process.versions.node || !fs.existsSync(BUNDLE)) return false;
  for (const [file, [mtimeMs, size]] of Object.entries(manifest.inputs)) {
    try {
      const [nowMtime, nowSize] = stamp(file);
      if (nowMtime !== mtimeMs || nowSize !== size) return false;
    } catch {
      return false; // deleted or moved: rebuild
    }
  }
  return true;
}

/**
 * Each source keeps its own location: `__dirname` and `__filename` are the source file's (schemas and
 * data files are read next to it), and `require.resolve` resolves from it (worker threads load modules
 * by path, from source).
 */
const keepSourceLocation = {
  name: "keep-source-location",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, "utf8");
      const file = JSON.stringify(args.path);
      const header =
        `const __filename = ${file}; const __dirname = ${JSON.stringify(path.dirname(args.path))}; ` +
        `const __sourceRequire = require("node:module").createRequire(__filename);`;
      return { contents: `${header}\n${source.replace(/\brequire\.resolve\(/g, "__sourceRequire.resolve(")}`, loader: "ts" };
    });
    build.onResolve({ filter: NODE_COMMAND_MODULES }, (args) =>
      args.importer === ENTRY ? { path: path.resolve(args.resolveDir, `${args.path}.ts`), external: true } : undefined,
    );
  },
};

async function buildBundle() {
  const esbuild = require("esbuild");
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: `node${process.versions.node}`,
    packages: "external",
    keepNames: true,
    metafile: true,
    write: false,
    logLevel: "silent",
    // Packages resolve from the sources' place, wherever the cache directory is.
    banner: { js: `require = require("node:module").createRequire(${JSON.stringify(ENTRY)});` },
    plugins: [keepSourceLocation],
  });
  const inputs = {};
  for (const file of [...Object.keys(result.metafile.inputs), ...EXTRA_INPUTS]) {
    // esbuild names inputs relative to the working directory; the manifest names them from the root.
    const relative = path.relative(ROOT, path.resolve(file));
    inputs[relative] = stamp(relative);
  }
  fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o700 });
  // Written whole under a temporary name, then renamed: commands started at once never read half a file.
  const writeWhole = (target, contents) => {
    const temporary = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, contents);
    fs.renameSync(temporary, target);
  };
  writeWhole(BUNDLE, result.outputFiles[0].contents);
  writeWhole(MANIFEST, JSON.stringify({ node: process.versions.node, inputs }));
}

function runFromSource() {
  require("tsx/cjs");
  require(ENTRY);
}

/**
 * True unless the cache directory could hold code someone else wrote: it exists and is not this
 * user's, or others may write in it (a LOTLINE_CLI_CACHE_DIR under /tmp, say). Loading a bundle from
 * there would run whatever another local user put in it; the CLI then runs from source.
 */
function cacheIsPrivate() {
  let stat;
  try {
    stat = fs.lstatSync(CACHE_DIR);
  } catch {
    return true; // created below, owner only
  }
  if (!stat.isDirectory() || (stat.mode & 0o022) !== 0) return false;
  return typeof process.getuid !== "function" || stat.uid === process.getuid();
}

/** Runs `lotline` with process.argv: from the bundle when it can, from source otherwise. */
async function run() {
  if (process.env.LOTLINE_CLI_FROM_SOURCE === "1" || NODE_COMMANDS.has(commandOf(process.argv.slice(2)))) return runFromSource();
  if (!cacheIsPrivate()) return runFromSource();
  if (!isFresh()) {
    try {
      await buildBundle();
    } catch {
      // A read-only install or a source that does not compile: run from source, where tsx says what is wrong.
      return runFromSource();
    }
  }
  require(BUNDLE);
}

module.exports = { run, commandOf };
