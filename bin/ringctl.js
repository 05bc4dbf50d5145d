#!/usr/bin/env node
// The installed `ringctl`: runs the compiled controller (npm run build makes dist/).
import { main } from '../dist/src/cli.js';

process.exitCode = await main(process.argv.slice(2));
