import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { benchWorkDir, durableFileCpuMs } from './workDir.ts';

describe("the benchmark's work directory and its file floor", () => {
  const made: string[] = [];
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('makes every file complete, 0600, under its name, with no temporary file left, and counts CPU for it', () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'elfe-workdir-'));
    made.push(parent);
    const { ms, dir } = durableFileCpuMs(parent, 70);
    expect(path.dirname(dir)).toBe(parent);
    const names = readdirSync(dir).sort();
    expect(names).toEqual(Array.from({ length: 70 }, (_, i) => `${i}.xml`).sort());
    for (const name of names) {
      expect(readFileSync(path.join(dir, name), 'utf8')).toBe('x'.repeat(3000));
      expect(statSync(path.join(dir, name)).mode & 0o777).toBe(0o600);
    }
    expect(ms).toBeGreaterThan(0);
  });

  it('lies where ELFE_BENCH_DIR says, else in bench/results/work of the repository', () => {
    const chosen = path.join(mkdtempSync(path.join(os.tmpdir(), 'elfe-workdir-')), 'nested');
    made.push(path.dirname(chosen));
    const before = process.env['ELFE_BENCH_DIR'];
    try {
      process.env['ELFE_BENCH_DIR'] = chosen;
      expect(benchWorkDir()).toBe(chosen);
      expect(statSync(chosen).isDirectory()).toBe(true);
      // On ext4, marked as the top of a directory hierarchy: each run's directory in a block group of its own.
      if (spawnSync('stat', ['-f', '-c', '%T', chosen], { encoding: 'utf8' }).stdout.trim() === 'ext2/ext3') {
        expect(spawnSync('lsattr', ['-d', chosen], { encoding: 'utf8' }).stdout.split(' ')[0]).toContain('T');
      }
      delete process.env['ELFE_BENCH_DIR'];
      expect(benchWorkDir()).toBe(path.resolve(import.meta.dirname, 'results', 'work'));
    } finally {
      if (before === undefined) delete process.env['ELFE_BENCH_DIR'];
      else process.env['ELFE_BENCH_DIR'] = before;
    }
  });
});
