// `elfe --version` and `elfe <command> --help`: the version of package.json; for every command
// its options with their defaults, the roles and address forms where they apply, an example.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands } from '../../hub/src/cli/commands.ts';
import { withHelp } from '../../hub/src/cli/help.ts';
import { main } from '../../hub/src/cli/main.ts';
import type { Io } from '../../hub/src/cli/command.ts';
import { runElfe } from '../support/processes.ts';

const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };

function capture(): Io & { text: () => string } {
  let out = '';
  return { out: (t) => (out += `${t}\n`), err: (t) => (out += `${t}\n`), isTTY: false, text: () => out };
}

describe('elfe --version and --help', () => {
  it('elfe --version prints the version of package.json, from any directory', async () => {
    const run = await runElfe(['--version'], { cwd: '/' });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`elfe ${pkg.version}`);
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))('elfe %s --help: options with defaults, an example', async (name, command) => {
    const io = capture();
    expect(await main([...command.path, '--help'], io, commands)).toBe(0);
    const text = io.text();
    expect(text).toContain(`Usage: elfe ${name}`);
    const helped = withHelp(command);
    // Every option the usage line names is explained.
    const flags = [...new Set([...command.usage.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => `--${m[1]}`))];
    if (flags.length > 0) expect(text, name).toContain('Options:');
    for (const flag of flags) expect(text, `${name}: ${flag}`).toMatch(new RegExp(`^  ${flag}\\b`, 'm'));
    expect(helped.examples?.length || /example:/i.test(command.usage), `${name}: an example`).toBeTruthy();
    expect(text).toMatch(/example/i);
  });

  it('roles and address forms where a command takes them', async () => {
    for (const name of ['pki request', 'pki register', 'exchange init']) {
      const io = capture();
      await main([...name.split(' '), '--help'], io, commands);
      expect(io.text(), name).toMatch(/psw:<Standesamtsnummer>.*egs:.*fka:/);
    }
    const io = capture();
    await main(['pki', 'request', '--help'], io, commands);
    expect(io.text()).toMatch(/standesamt, meldebehoerde, elterngeldstelle, familienkasse, auditor/);
  });

  it('defaults are shown', async () => {
    const io = capture();
    await main(['start', '--help'], io, commands);
    expect(io.text()).toMatch(/--nats-port PORT .*\(default: 4222\)/);
    expect(io.text()).toMatch(/--data DIR .*\(default: \.\/data\)/);
  });

  it('as a process: elfe demo --help from another directory', async () => {
    const run = await runElfe(['demo', '--help'], { cwd: '/' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--births N +synthetic births to send \(default: 100\)/);
    expect(run.stdout).toMatch(/elfe demo --births 1000/);
  });
});
