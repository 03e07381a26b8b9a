// A worker thread running Lotline's TypeScript modules: tsx's require hook is installed here as
// bin/lotline.js installs it for the command, so a worker works the same under `npm start`, the
// CLI and the tests. Each message names a module, one of its exported functions and the arguments;
// the answer carries the result or the error's message.
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS, like bin/lotline.js */
/* global require */
"use strict";
const { parentPort } = require("node:worker_threads");
require("tsx/cjs");

parentPort.on("message", async ({ id, module, fn, args }) => {
  try {
    const exported = require(module)[fn];
    if (typeof exported !== "function") throw new Error(`${module} exports no function ${fn}`);
    parentPort.postMessage({ id, ok: true, result: await exported(...args) });
  } catch (err) {
    parentPort.postMessage({ id, ok: false, error: { message: String((err && err.message) || err), name: (err && err.name) || "Error" } });
  }
});
