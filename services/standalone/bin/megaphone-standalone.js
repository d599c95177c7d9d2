#!/usr/bin/env node
// `megaphone-standalone`: producer and gateway in one process sharing one bus (what `npm start` runs).
import '../dist/src/main.js';
