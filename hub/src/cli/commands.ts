import type { Command } from './command.ts';
import { contractCommands } from './contractCommands.ts';
import { xmlCommands } from './xmlCommands.ts';
import { auditCommands } from './auditCommands.ts';
import { hubCommands } from './hubCommands.ts';
import { pkiCommands } from './pkiCommands.ts';
import { partyCommands } from './partyCommands.ts';
import { submitterCommands } from './submitterCommands.ts';
import { witnessCommands } from './witnessCommands.ts';
import { eraseCommands } from './eraseCommands.ts';
import { clusterCommands } from './clusterCommands.ts';
import { initCommands } from './initCommands.ts';
import { logCommands } from './logCommands.ts';

/** The command modules by file name; the build writes their paths and summaries to a manifest. */
export const commandModules: Readonly<Record<string, readonly Command[]>> = { contractCommands, xmlCommands, auditCommands, hubCommands, partyCommands, submitterCommands, pkiCommands, witnessCommands, eraseCommands, clusterCommands, initCommands, logCommands };

/** Every `elfe` subcommand; each module contributes its own. */
export const commands: readonly Command[] = Object.values(commandModules).flat();
