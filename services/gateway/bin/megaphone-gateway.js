#!/usr/bin/env -S node --max-semi-space-size=4 --single-threaded-gc
// `megaphone-gateway`: one gateway, configured by the environment (docs/configuration.md). The node
// flags in the line above are GATEWAY_NODE_FLAGS (src/node-flags.ts; a test keeps them in step).
// SIGTERM/SIGINT drain it (src/main.ts); run it with `exec` or directly, never behind a shell that
// would swallow the signal.
import '../dist/src/main.js';
