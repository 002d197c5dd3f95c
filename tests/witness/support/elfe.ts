// The `elfe witness` and `elfe audit` commands as their own entry point. bin/elfe.js loads every
// command module, and while the PKI rework is in progress (hub/src/pki/parties.ts missing on this
// branch) it cannot start; these tests only need the witness and audit commands.
import { auditCommands } from '../../../hub/src/cli/auditCommands.ts';
import { exitCode, processIo, UsageError } from '../../../hub/src/cli/command.ts';
import { witnessCommands } from '../../../hub/src/cli/witnessCommands.ts';

const argv = process.argv.slice(2);
const list = [...witnessCommands, ...auditCommands];
const command = list.filter((c) => c.path.every((w, i) => argv[i] === w)).sort((a, b) => b.path.length - a.path.length)[0];
if (!command) {
  processIo.err(`unknown command ${argv.join(' ')}`);
  process.exitCode = exitCode.usage;
} else {
  try {
    process.exitCode = await command.run(argv.slice(command.path.length), processIo);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    processIo.err(error.message);
    process.exitCode = exitCode.usage;
  }
}
