#!/usr/bin/env node
// The `lotline` command. Runs the TypeScript sources with no build step for the user: from a bundle
// built on first use and rebuilt when a source changes, or through tsx's require hook (bin/cli-bundle.js).
"use strict";
require("./cli-bundle").run();
