import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import boundaries from '../../eslint/boundaries.js';

const root = resolve(import.meta.dirname, '../..');
// The rule alone, without type information, so probe files need not exist on disk.
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { elfe: boundaries },
    rules: { 'elfe/boundaries': 'error' },
  },
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('module boundaries (npm run lint)', () => {
  it.each([
    ['contracts/src/probe.ts', "import { x } from '../../hub/src/cli/main.ts';", /contracts\/ imports nothing of ours/],
    ['contracts/src/probe.ts', "import Database from 'better-sqlite3';", /infrastructure package/],
    ['contracts/src/probe.ts', "import { readFileSync } from 'node:fs';", /infrastructure package/],
    ['hub/src/routing/probe.ts', "import { connect } from '@nats-io/transport-node';", /infrastructure package/],
    ['connectors/elterngeld/src/probe.ts', "import { x } from '../../../hub/src/cli/main.ts';", /may import only contracts/],
    ['connectors/elterngeld/src/probe.ts', "import { x } from '../../familienkasse/src/x.ts';", /may import only contracts/],
    ['connectors/kit/probe.ts', "import { x } from '../elterngeld/x.ts';", /may import only contracts/],
  ])('%s: refuses %s', async (file, code, expected) => {
    const found = await problems(file, `${code}\nexport const y = 1;\n`);
    expect(found.some((p) => p.startsWith('elfe/boundaries') && expected.test(p))).toBe(true);
  });

  it.each([
    ['connectors/elterngeld/src/probe.ts', "import { canonicalJson } from '../../../contracts/index.ts';"],
    ['connectors/elterngeld/src/probe.ts', "import { x } from './other.ts';"],
    ['connectors/elterngeld/src/probe.ts', "import { x } from '../../kit/agencyConsumer.ts';"],
    ['hub/src/log/probe.ts', "import Database from 'better-sqlite3';"],
    ['contracts/src/probe.ts', "import { createHash } from 'node:crypto';"],
  ])('%s: allows %s', async (file, code) => {
    const found = await problems(file, `${code}\nexport const y = 1;\n`);
    expect(found.filter((p) => p.startsWith('elfe/boundaries'))).toEqual([]);
  });
});

describe('the project configuration', () => {
  it.each(['contracts/src/x.ts', 'hub/src/log/x.ts', 'connectors/standesamt/src/x.ts', 'tests/x.ts'])(
    'enables the boundary rule and forbids floating promises in %s',
    async (file) => {
      const config = (await new ESLint({ cwd: root }).calculateConfigForFile(resolve(root, file))) as {
        rules: Record<string, unknown>;
      };
      expect(JSON.stringify(config.rules['elfe/boundaries'])).toMatch(/^\[2/);
      expect(JSON.stringify(config.rules['@typescript-eslint/no-floating-promises'])).toMatch(/^\[2/);
    },
  );
});
