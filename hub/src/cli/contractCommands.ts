import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { checkIdNr, maskIdNr } from '../../../contracts/index.ts';
import { renderJsonSchemas } from '../../../contracts/src/jsonSchemas.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';
import { repoRoot } from '../infra/repoRoot.ts';

/** Where the published JSON Schemas live in the repository. */
export const schemaDir = resolve(repoRoot, 'contracts/schemas');

const idnrCheck: Command = {
  path: ['idnr', 'check'],
  summary: 'check a Steuer-IdNr (exit 0 valid, 2 invalid, with the reason)',
  usage: 'elfe idnr check IDNR [--test-ids] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { 'test-ids': { type: 'boolean' }, json: { type: 'boolean' } });
    const [input, ...extra] = positionals;
    if (input === undefined || extra.length > 0) throw new UsageError('expects exactly one IdNr');
    const result = checkIdNr(input, { testMode: values['test-ids'] === true });
    if (values.json) {
      io.out(JSON.stringify(result.success ? { valid: true, idnr: maskIdNr(input) } : { valid: false, ...result.error }));
    } else {
      io.out(result.success ? `valid: ${maskIdNr(input)}` : `invalid (${result.error.code}): ${result.error.message}`);
    }
    return result.success ? exitCode.ok : exitCode.invalidInput;
  },
};

const schemasExport: Command = {
  path: ['schemas', 'export'],
  summary: 'write the JSON Schema of every contract (default: contracts/schemas/)',
  usage: 'elfe schemas export [--out DIR]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { out: { type: 'string' } });
    const dir = typeof values.out === 'string' ? resolve(values.out) : schemaDir;
    await mkdir(dir, { recursive: true });
    const rendered = renderJsonSchemas();
    for (const stale of await readdir(dir)) {
      if (stale.endsWith('.schema.json') && !(stale in rendered)) await rm(join(dir, stale));
    }
    for (const [file, text] of Object.entries(rendered)) await writeFile(join(dir, file), text);
    io.out(`wrote ${Object.keys(rendered).length} schemas to ${dir}`);
    return exitCode.ok;
  },
};

export const contractCommands: readonly Command[] = [idnrCheck, schemasExport];
