// ESLint flat config: typescript-eslint's recommended rules over services/, scripts/ and test/,
// and the layering of services/ (docs/architecture.md, "Layers").
import js from "@eslint/js";
import tseslint from "typescript-eslint";

// Layers of services/, lowest first; a layer imports only from layers below it (and itself).
const BASE = ["chain", "common", "config", "gs1"];
const STORE = ["store"];
const INDEXER = ["indexer"];
const DOMAINS = ["anchoring", "analytics", "demo", "epcis", "export", "identity", "provenance", "relayer", "scoring", "settlement", "sharing"];
const TOP = ["api", "cli", "node"];
// Pure functions of data (no I/O, no imports from other folders) that the store and the indexer share
// with the domains they belong to.
const PURE = ["provenance/quantity", "provenance/trace", "sharing/grants"];
const pureFiles = PURE.map((m) => `services/${m}.ts`);

/** A relative import reaching into one of `dirs` of services/ (from any depth below services/). */
function into(dirs, { exceptPure = false } = {}) {
  const names = dirs.map((dir) => {
    const pure = exceptPure ? PURE.filter((m) => m.startsWith(`${dir}/`)).map((m) => m.slice(dir.length + 1)) : [];
    return pure.length ? `${dir}(?!/(?:${pure.join("|")})$)` : dir;
  });
  return `^(?:\\.\\./)+(?:${names.join("|")})(?:/|$)`;
}

const HTTP = { group: ["fastify", "@fastify/*", "@sinclair/typebox"], message: "HTTP lives in services/api/ only (docs/architecture.md, Layers)." };

function layer(dirs, forbidden, extra = [], exceptPure = false) {
  return {
    files: dirs.map((dir) => `services/${dir}/**/*.ts`),
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            ...(forbidden.length
              ? [{ regex: into(forbidden, { exceptPure }), message: `${dirs.join(", ")} may not import from ${forbidden.join(", ")} (docs/architecture.md, Layers).` }]
              : []),
            ...extra,
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ["node_modules/", "artifacts/", "cache/", "typechain-types/", "coverage/", "dist/", "data/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-unused-expressions": "off" },
  },
  layer(BASE, [...STORE, ...INDEXER, ...DOMAINS, ...TOP], [HTTP]),
  layer(STORE, [...INDEXER, ...DOMAINS, ...TOP], [HTTP], true),
  layer(INDEXER, [...DOMAINS, ...TOP], [HTTP], true),
  layer(DOMAINS, [...INDEXER, ...TOP], [HTTP]),
  layer(["api"], ["cli", "node"], [
    { regex: "(?:^|/)indexer/handlers(?:/|$)", message: "The API reads the store, not the indexer's handlers (docs/architecture.md, Layers)." },
  ]),
  layer(["cli"], ["api"]),
  {
    // Pure modules import nothing from other folders, so any layer may use them.
    files: pureFiles,
    rules: { "no-restricted-imports": ["error", { patterns: [{ regex: "^\\.\\./", message: "a pure module imports nothing from other folders" }] }] },
  },
  {
    // The explorer's page modules run in the browser.
    files: ["services/web/**/*.js"],
    languageOptions: {
      sourceType: "module",
      globals: Object.fromEntries(
        ["window", "document", "location", "localStorage", "fetch", "Node", "URL", "URLSearchParams", "getComputedStyle", "requestAnimationFrame", "setTimeout", "console", "performance", "TextEncoder"].map((g) => [g, "readonly"]),
      ),
    },
  },
  {
    files: ["bin/**/*.js", ".solcover.js"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", process: "readonly", module: "readonly", __dirname: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
