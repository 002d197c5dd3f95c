// Build step: writes the command manifest next to the compiled command line.
import { writeFileSync } from 'node:fs';
import { commandModules } from './commands.ts';
import { manifestFile, type CommandSpec } from './manifest.ts';

const specs: CommandSpec[] = Object.entries(commandModules).flatMap(([module, list]) => list.map((c) => ({ path: c.path, summary: c.summary, usage: c.usage, module })));
writeFileSync(manifestFile, `${JSON.stringify(specs, null, 2)}\n`);
