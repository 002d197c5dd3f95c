// CPU time the exchange's processes use, read from Linux's /proc: user + system time per
// process (`/proc/<pid>/stat`, in USER_HZ = 100 ticks a second) and the machine's busy and
// idle time (`/proc/stat`). Taken before and after a run, the difference says how much CPU
// each party needed per birth and whether the machine's cores were the limit.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const ticksPerSecond = 100;

/** User and system (kernel) CPU time of a process in ms, or undefined when it is gone (or not Linux). */
export function processCpu(pid: number): { readonly userMs: number; readonly systemMs: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? { userMs: (utime * 1000) / ticksPerSecond, systemMs: (stime * 1000) / ticksPerSecond } : undefined;
}

/** User + system CPU time of a process in ms, or undefined when it is gone (or not Linux). */
export function processCpuMs(pid: number): number | undefined {
  const cpu = processCpu(pid);
  return cpu && cpu.userMs + cpu.systemMs;
}

/** Processes whose command line contains every one of `parts` (e.g. a nats-server and its store directory). */
export function pidsWhoseCommandHas(...parts: string[]): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (parts.every((p) => cmdline.includes(p))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface MachineCpu {
  readonly busyMs: number;
  readonly idleMs: number;
}

/** The machine's CPU time over all cores since boot: busy (user, nice, system, irq, softirq, steal) and idle (idle, iowait). */
export function machineCpu(): MachineCpu | undefined {
  let line: string | undefined;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
  } catch {
    return undefined;
  }
  if (!line) return undefined;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const ms = (ticks: number | undefined) => ((ticks ?? 0) * 1000) / ticksPerSecond;
  return { busyMs: ms(user) + ms(nice) + ms(system) + ms(irq) + ms(softirq) + ms(steal), idleMs: ms(idle) + ms(iowait) };
}

export interface CpuSnapshot {
  readonly perGroup: ReadonlyMap<string, number>;
  /** Of that, the time in the kernel (system calls: file writes, fsync, sockets). */
  readonly systemPerGroup: ReadonlyMap<string, number>;
  readonly machine: MachineCpu | undefined;
}

/** CPU ms per group of processes (a group's pids summed; this process's own time via `self`). */
export function cpuSnapshot(groups: ReadonlyMap<string, readonly number[]>, self?: string): CpuSnapshot {
  const perGroup = new Map<string, number>();
  const systemPerGroup = new Map<string, number>();
  for (const [group, pids] of groups) {
    const cpus = pids.map((pid) => processCpu(pid) ?? { userMs: 0, systemMs: 0 });
    perGroup.set(group, cpus.reduce((sum, c) => sum + c.userMs + c.systemMs, 0));
    systemPerGroup.set(group, cpus.reduce((sum, c) => sum + c.systemMs, 0));
  }
  if (self !== undefined) {
    const { user, system } = process.cpuUsage();
    perGroup.set(self, (perGroup.get(self) ?? 0) + (user + system) / 1000);
    systemPerGroup.set(self, (systemPerGroup.get(self) ?? 0) + system / 1000);
  }
  return { perGroup, systemPerGroup, machine: machineCpu() };
}

export interface CpuUse {
  /** CPU ms each group used between the snapshots. */
  readonly perGroup: ReadonlyMap<string, number>;
  /** Of that, the time each group spent in the kernel. */
  readonly systemPerGroup: ReadonlyMap<string, number>;
  readonly totalMs: number;
  /** Share of the machine's cores that were busy (any process), 0..1. */
  readonly machineBusy: number | undefined;
  readonly cores: number;
}

export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const perGroup = new Map<string, number>();
  for (const [group, ms] of after.perGroup) perGroup.set(group, Math.max(0, ms - (before.perGroup.get(group) ?? 0)));
  const systemPerGroup = new Map<string, number>();
  for (const [group, ms] of after.systemPerGroup) systemPerGroup.set(group, Math.max(0, ms - (before.systemPerGroup.get(group) ?? 0)));
  const totalMs = [...perGroup.values()].reduce((a, b) => a + b, 0);
  let machineBusy: number | undefined;
  if (before.machine && after.machine) {
    const busy = after.machine.busyMs - before.machine.busyMs;
    const all = busy + after.machine.idleMs - before.machine.idleMs;
    machineBusy = all > 0 ? busy / all : undefined;
  }
  return { perGroup, systemPerGroup, totalMs, machineBusy, cores: os.availableParallelism() };
}
