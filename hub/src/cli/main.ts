import { lazyCommands } from './manifest.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { exitCode, processIo, renderHelp, reportError, UsageError, type Command, type Io } from './command.ts';
import { withHelp } from './help.ts';

/** The version in package.json (two levels above hub/src/cli, three above dist/hub/src/cli). */
export function version(): string {
  for (const up of ['../../..', '../../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(import.meta.dirname, up, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'elfe-hub' && pkg.version) return pkg.version;
    } catch {
      // not there: the other layout
    }
  }
  return 'unknown';
}

function help(io: Io, list: readonly Command[]): void {
  io.out('elfe: once-only exchange of birth registrations (Standesamt → Elterngeldstelle, Familienkasse)\n');
  io.out('Usage: elfe <command> [options]\n\nCommands:');
  const width = Math.max(0, ...list.map((c) => c.path.join(' ').length));
  for (const c of list) io.out(`  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  io.out('\nRun `elfe <command> --help` for the options of a command; `elfe --version` for the version.');
}

/** Finds the command whose path is the longest prefix of `argv`. */
export function resolveCommand(argv: readonly string[], list: readonly Command[]) {
  let best: Command | undefined;
  for (const c of list) {
    const matches = c.path.every((word, i) => argv[i] === word);
    if (matches && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { command: best, args: argv.slice(best.path.length) } : undefined;
}

/** The command list: from the build's manifest (loading one module per run), else every module. */
async function allCommands(): Promise<readonly Command[]> {
  return lazyCommands() ?? (await import('./commands.ts')).commands;
}

export async function main(argv: string[], io: Io = processIo, given?: readonly Command[]): Promise<number> {
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version') {
    io.out(`elfe ${version()}`);
    return exitCode.ok;
  }
  const list = given ?? (await allCommands());
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    help(io, list);
    return argv.length === 0 ? exitCode.usage : exitCode.ok;
  }
  const found = resolveCommand(argv, list);
  if (!found) {
    const group = list.filter((c) => c.path[0] === argv[0]);
    if (group.length > 0) {
      help(io, group);
      return exitCode.usage;
    }
    io.err(`elfe: unknown command '${argv.join(' ')}'. Run 'elfe --help'.`);
    return exitCode.usage;
  }
  const { command, args } = found;
  if (args.includes('--help') || args.includes('-h')) {
    io.out(renderHelp(withHelp(command)));
    return exitCode.ok;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`elfe ${command.path.join(' ')}: ${error.message}\nUsage: ${command.usage}\n(elfe ${command.path.join(' ')} --help for the options)`);
      return exitCode.usage;
    }
    // No raw stack trace: a named error (ELFE_DEBUG=1 shows the stack).
    if (process.env.ELFE_DEBUG) io.err(String((error as Error).stack));
    const failed = error instanceof Error ? error : new Error(String(error));
    const code = (failed as { code?: unknown }).code;
    reportError(io, typeof code === 'string' ? failed : Object.assign(failed, { code: 'internal', hint: `an unexpected failure of elfe ${command.path.join(' ')}; ELFE_DEBUG=1 shows where` }), args.includes('--json'));
    return typeof code === 'string' ? exitCode.invalidInput : exitCode.failed;
  }
}
