#!/usr/bin/env node
// `megaphone-producer`: the producer alone, configured by the environment (docs/configuration.md).
// SIGTERM/SIGINT stop its jobs and exit (src/main.ts).
import '../dist/src/main.js';
