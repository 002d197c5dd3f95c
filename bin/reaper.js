#!/usr/bin/env node
// Runs a command as a managed child: it ends when the command ends (same exit status), and
// the command ends when this process's parent goes away, even by SIGKILL (stdin closes).
// Used for the local nats-server, so that it never outlives the hub unmanaged.
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: reaper.js COMMAND [ARGS...]');
  process.exit(64);
}
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
const stop = () => {
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGKILL' ? 137 : 143)));
