import type { Command } from './command.ts';

/** Every `elfe` subcommand; each module contributes its own. */
export const commands: readonly Command[] = [];
