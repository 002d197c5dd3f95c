// Build step: writes the command manifest next to the compiled command line.
import { writeFileSync } from 'node:fs';
import { commandModules } from './commands.ts';
import { withHelp } from './help.ts';
import { manifestFile, type CommandSpec } from './manifest.ts';

// Each command's help (options with defaults, notes, examples) goes in too: `--help` loads no command module.
const specs: CommandSpec[] = Object.entries(commandModules).flatMap(([module, list]) =>
  list.map(withHelp).map((c) => ({ path: c.path, summary: c.summary, usage: c.usage, ...(c.options ? { options: c.options } : {}), ...(c.notes ? { notes: c.notes } : {}), ...(c.examples ? { examples: c.examples } : {}), module })),
);
writeFileSync(manifestFile, `${JSON.stringify(specs, null, 2)}\n`);
