// The README's shell blocks as a script: the blocks of a section, each command line as written
// (`npx elfe …` runs this checkout's bin/elfe.js), comments skipped, the long-running commands
// (`elfe start`, `elfe hub start`, `elfe connector …`, `elfe standesamt watch`, …) in the
// background, each waited for until it printed its `ready:` line. The ports the README calls
// examples (4222, 8443, 9464) become free ones; nothing else is changed.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

/** The fenced `sh` blocks between a heading (any level, matched by its text) and the next heading. */
export function shellBlocksOf(readme: string, heading: string): string[] {
  const lines = readme.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.replace(/^#+ /, '').trim() === heading);
  if (start < 0) throw new Error(`the README has no section "${heading}"`);
  const blocks: string[] = [];
  let current: string[] | undefined;
  for (const line of lines.slice(start + 1)) {
    if (current === undefined && /^#{1,4} /.test(line)) break;
    if (current === undefined && /^```sh\s*$/.test(line)) current = [];
    else if (current !== undefined && /^```\s*$/.test(line)) {
      blocks.push(current.join('\n'));
      current = undefined;
    } else if (current !== undefined) current.push(line);
  }
  return blocks;
}

/** The commands of a block: one per line, comments and empty lines skipped. */
export const commandsOf = (block: string): string[] =>
  block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));

const longRunning = /^elfe (start|hub start|connector |standesamt watch|cluster nats|witness start)\b/;

/** The example ports the README names, and the ones used instead. */
export interface Ports {
  readonly nats: number;
  readonly api: number;
  readonly metrics: number;
}

export const withPorts = (line: string, ports: Ports): string => line.replace(/\b4222\b/g, String(ports.nats)).replace(/\b8443\b/g, String(ports.api)).replace(/\b9464\b/g, String(ports.metrics));

/** A bash script running the commands as the README has them. */
export function scriptOf(commands: readonly string[], ports: Ports): string {
  const body = commands.map((command, i) => {
    const line = withPorts(command, ports).replace(/^npx elfe\b/, 'elfe').replace(/(&&\s*)npx elfe\b/g, '$1elfe');
    return longRunning.test(line) ? `background ${i} ${line}` : line;
  });
  return [
    'set -eEuo pipefail',
    `trap 'echo "README command failed (exit $?): $BASH_COMMAND" >&2' ERR`,
    // A long-running command: in the background, waited for until its `ready:` line (`elfe start`: its "running" line).
    'background() {',
    '  local n=$1; shift',
    '  "$@" > "$ELFE_README_LOGS/bg-$n.out" 2> "$ELFE_README_LOGS/bg-$n.err" &',
    '  local pid=$!',
    '  echo $pid >> "$ELFE_README_LOGS/pids"',
    '  for _ in $(seq 1 1200); do',
    `    if grep -qE '^(ready:|elfe exchange running)' "$ELFE_README_LOGS/bg-$n.out"; then return 0; fi`,
    '    if ! kill -0 $pid 2>/dev/null; then echo "README command exited before it was ready: $*" >&2; cat "$ELFE_README_LOGS/bg-$n.out" "$ELFE_README_LOGS/bg-$n.err" >&2; return 1; fi',
    '    sleep 0.1',
    '  done',
    '  echo "README command not ready within 120 s: $*" >&2; return 1',
    '}',
    ...body,
    '',
  ].join('\n');
}

export interface ScriptRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The background processes' output, by command index. */
  background(index: number): string;
  /** Stops every background process (SIGTERM, then SIGKILL) and waits for them. */
  stop(): Promise<void>;
}

/** Runs the script in `dir` with `elfe` on the PATH (this checkout's bin/elfe.js). */
export async function runScript(dir: string, script: string, timeoutMs: number): Promise<ScriptRun> {
  const logs = path.join(dir, '.readme-run');
  const bin = path.join(logs, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, 'elfe'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(repoRoot, 'bin', 'elfe.js')}" "$@"\n`);
  chmodSync(path.join(bin, 'elfe'), 0o755);
  writeFileSync(path.join(logs, 'script.sh'), script);
  const child = spawn('bash', [path.join(logs, 'script.sh')], {
    cwd: dir,
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, ELFE_README_LOGS: logs, ELFE_LOG_LEVEL: process.env.ELFE_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      stderr += `\n(the README script did not finish within ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const pids = () => (existsSync(path.join(logs, 'pids')) ? readFileSync(path.join(logs, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number) : []);
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    code,
    stdout,
    stderr,
    background: (index) => ['out', 'err'].map((k) => (existsSync(path.join(logs, `bg-${index}.${k}`)) ? readFileSync(path.join(logs, `bg-${index}.${k}`), 'utf8') : '')).join('\n'),
    async stop() {
      // The last started first: the parties before the hub.
      for (const pid of pids().reverse()) {
        if (alive(pid)) process.kill(pid, 'SIGTERM');
        const deadline = Date.now() + 20_000;
        while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
      }
    },
  };
}
