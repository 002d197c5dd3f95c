import { lazyCommands } from './manifest.ts';
import { exitCode, processIo, UsageError, type Command, type Io } from './command.ts';

function help(io: Io, list: readonly Command[]): void {
  io.out('elfe: once-only exchange of birth registrations (Standesamt → Elterngeldstelle, Familienkasse)\n');
  io.out('Usage: elfe <command> [options]\n\nCommands:');
  const width = Math.max(0, ...list.map((c) => c.path.join(' ').length));
  for (const c of list) io.out(`  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  io.out('\nRun `elfe <command> --help` for the options of a command.');
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
    io.out(`Usage: ${command.usage}\n\n${command.summary}`);
    return exitCode.ok;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`elfe ${command.path.join(' ')}: ${error.message}\nUsage: ${command.usage}`);
      return exitCode.usage;
    }
    throw error;
  }
}
