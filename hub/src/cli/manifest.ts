// The command manifest of a compiled installation: each command's words, summary, usage, help
// (options with defaults, notes, examples) and module, written by the build, so that `elfe
// --help` and every command load only what they need instead of every module of the command line.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command, CommandHelp } from './command.ts';

export interface CommandSpec extends CommandHelp {
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  /** File name (without extension) of the module that exports the command. */
  readonly module: string;
}

export const manifestFile = path.join(import.meta.dirname, 'commands.json');

/** Commands from the manifest, each loading its module on first use; undefined without a manifest. */
export function lazyCommands(): readonly Command[] | undefined {
  if (!import.meta.filename.endsWith('.js') || !existsSync(manifestFile)) return undefined;
  const specs = JSON.parse(readFileSync(manifestFile, 'utf8')) as CommandSpec[];
  return specs.map((spec) => ({
    path: spec.path,
    summary: spec.summary,
    usage: spec.usage,
    ...(spec.options ? { options: spec.options } : {}),
    ...(spec.notes ? { notes: spec.notes } : {}),
    ...(spec.examples ? { examples: spec.examples } : {}),
    async run(args, io) {
      const mod = (await import(pathToFileURL(path.join(import.meta.dirname, `${spec.module}.js`)).href)) as Record<string, readonly Command[]>;
      const command = mod[spec.module]?.find((c) => c.path.join(' ') === spec.path.join(' '));
      if (!command) throw new Error(`the manifest names ${spec.path.join(' ')} in ${spec.module}, which does not export it: rebuild (npm run build)`);
      return command.run(args, io);
    },
  }));
}
