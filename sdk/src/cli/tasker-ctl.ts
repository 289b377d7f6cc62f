#!/usr/bin/env node
// The executable: kept apart from main.ts so importing the CLI (in tests) runs nothing.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
