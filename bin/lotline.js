#!/usr/bin/env node
// The `lotline` command. Runs the TypeScript sources through tsx's require hook, so the CLI works
// right after `npm install` with no build step.
"use strict";
require("tsx/cjs");
require("../services/cli/main.ts");
