import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuBetween, cpuSnapshot, pidsWhoseCommandHas, processCpuMs } from './cpuTime.ts';

const linux = existsSync('/proc/self/stat');

describe.skipIf(!linux)('CPU time from /proc', () => {
  it("counts a process's CPU time as it works, and nothing for a pid that does not exist", () => {
    const before = processCpuMs(process.pid)!;
    const start = process.cpuUsage();
    let x = 0;
    // 150 ms of this process's own CPU time, however busy the machine is.
    while (process.cpuUsage(start).user < 150_000) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    const after = processCpuMs(process.pid)!;
    // /proc counts in 10 ms ticks.
    expect(after - before).toBeGreaterThanOrEqual(130);
    expect(processCpuMs(2 ** 22 + 1)).toBeUndefined();
  });

  it('finds a child by its command line and attributes its CPU time to its group', async () => {
    const marker = `cpu-probe-${randomUUID()}`;
    const child = spawn(process.execPath, ['-e', 'let x = 0; while (process.cpuUsage().user < 300_000) x++; setTimeout(() => {}, 60_000)', marker], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const groups = new Map([['child', pidsWhoseCommandHas(marker)]]);
      expect(groups.get('child')).toEqual([child.pid]);
      const before = cpuSnapshot(groups);
      let use = cpuBetween(before, cpuSnapshot(groups));
      const deadline = Date.now() + 10_000;
      while (use.perGroup.get('child')! < 150 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        use = cpuBetween(before, cpuSnapshot(groups));
      }
      expect(use.perGroup.get('child')).toBeGreaterThanOrEqual(150);
      expect(use.totalMs).toBe(use.perGroup.get('child'));
      expect(use.machineBusy).toBeGreaterThan(0);
      expect(use.machineBusy).toBeLessThanOrEqual(1);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
