#!/usr/bin/env node
// Entry point of the `elfe` command: loads the TypeScript sources through tsx,
// so the command works right after `npm ci` without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../hub/src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
