// `elfe witness …`: a C2SP tlog-witness for the hub's log, run by someone other than the hub
// operator (e.g. the data-protection authority), with its own key and its own state. One
// process per state directory (a lock file beside the state; a dead owner's is taken over).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseVerifierKey, type NoteVerifier } from '../../../contracts/index.ts';
import { untilStopped } from '../../../connectors/kit/lifecycle.ts';
import { acquireDataDirLock, type DataDirLock } from '../app/dataDirLock.ts';
import { ConfigError } from '../config/config.ts';
import { PortInUseError } from '../infra/nats/natsServer.ts';
import { Witness } from '../witness/witness.ts';
import { createWitnessKey, readWitnessKey, WitnessKeyError } from '../witness/witnessKey.ts';
import { startWitnessServer } from '../witness/witnessServer.ts';
import { WitnessState } from '../witness/witnessState.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';
import { reportingErrors } from './partyCommands.ts';

/** A log verifier key given inline or as a file holding it (`configFile`: where it was read, for the error). */
function logVerifier(value: string, configFile?: string): NoteVerifier {
  const refuse = (message: string) => (configFile ? new ConfigError([{ path: `${configFile}: log`, message }]) : new UsageError(`--log ${message}`));
  const inline = parseVerifierKey(value);
  if (inline.success) return inline.data;
  const file = configFile ? path.resolve(path.dirname(configFile), value) : value;
  if (existsSync(file)) {
    const fromFile = parseVerifierKey(readFileSync(file, 'utf8'));
    if (fromFile.success) return fromFile.data;
    throw refuse(`${value}: ${fromFile.error.message}`);
  }
  throw refuse(`${value}: ${inline.error.message} (give the hub's verifier key, from \`elfe keys show\` or the hub's \`hub verifier key:\` line, or a file holding it)`);
}

/** What `elfe init witness` and `elfe exchange init` write: paths relative to the file's directory. */
const WitnessConfigSchema = z
  .object({
    role: z.literal('witness'),
    name: z.string().optional(),
    key: z.string().min(1),
    verifierKey: z.string().optional(),
    log: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(0),
    state: z.string().min(1).default('state'),
  })
  .strip();

export interface WitnessRunConfig {
  readonly keyFile: string;
  readonly logs: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly stateDir: string;
}

/** A witness's config.json (the `"//"` comments dropped), its paths resolved against its directory. */
export function loadWitnessConfig(file: string): WitnessRunConfig {
  const abs = path.resolve(file);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(abs, 'utf8'));
  } catch (error) {
    throw new ConfigError([{ path: abs, message: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message }]);
  }
  const parsed = WitnessConfigSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => ({ path: `${abs}: ${i.path.join('.')}`, message: i.message })));
  const dir = path.dirname(abs);
  const c = parsed.data;
  return { keyFile: path.resolve(dir, c.key), logs: typeof c.log === 'string' ? [c.log] : c.log, host: c.host, port: c.port, stateDir: path.resolve(dir, c.state) };
}

const keyCreate: Command = {
  path: ['witness', 'key', 'create'],
  summary: "create the witness's Ed25519 key (mode 0600) and print its verifier key",
  usage: 'elfe witness key create --out FILE --name NAME [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { out: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } });
    if (!values.out || !values.name) throw new UsageError('--out FILE and --name NAME are required');
    try {
      const key = createWitnessKey(path.resolve(values.out), values.name);
      io.out(values.json ? JSON.stringify({ name: key.name, verifierKey: key.verifierKey }) : key.verifierKey);
      return exitCode.ok;
    } catch (error) {
      if (error instanceof WitnessKeyError) {
        io.err(`elfe witness key create: ${error.message}`);
        return exitCode.failed;
      }
      throw error;
    }
  },
};

/** A typed start error with the hint an operator needs. */
function withHint<T>(make: () => T, hint: string): T {
  try {
    return make();
  } catch (error) {
    if (typeof (error as { code?: unknown }).code === 'string' && (error as { hint?: unknown }).hint === undefined) Object.assign(error as Error, { hint });
    throw error;
  }
}

const start: Command = {
  path: ['witness', 'start'],
  summary: 'run a witness: POST /add-checkpoint verifies consistency and cosigns (C2SP tlog-witness)',
  usage: 'elfe witness start [--config FILE] [--key FILE] [--log VERIFIER_KEY …] [--port P] [--host H] [--state DIR] [--json]',
  run: (args, io) =>
    reportingErrors(
      io,
      async () => {
        const { values } = parseCommandArgs(args, {
          config: { type: 'string' },
          key: { type: 'string' },
          log: { type: 'string', multiple: true },
          port: { type: 'string' },
          host: { type: 'string' },
          state: { type: 'string' },
          json: { type: 'boolean' },
        });
        // The configuration (elfe init witness, elfe exchange init), each option given overriding it.
        const configFile = values.config ? path.resolve(values.config) : undefined;
        const config = configFile ? loadWitnessConfig(configFile) : undefined;
        const keyFile = values.key ? path.resolve(values.key) : config?.keyFile;
        if (!keyFile) throw new UsageError('--key FILE or --config FILE is required (elfe init witness, or elfe witness key create)');
        const logs = values.log && values.log.length > 0 ? values.log.map((l) => logVerifier(l)) : (config?.logs ?? []).map((l) => logVerifier(l, configFile));
        if (logs.length === 0) throw new UsageError('--log VERIFIER_KEY is required: the log(s) this witness vouches for');
        const port = values.port !== undefined ? Number(values.port) : (config?.port ?? 0);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port is a TCP port');
        const host = values.host ?? config?.host ?? '127.0.0.1';
        const stateDir = path.resolve(values.state ?? config?.stateDir ?? path.join('data', 'witness'));
        const key = withHint(() => readWitnessKey(keyFile), 'make the witness key with elfe init witness --dir DIR (or elfe witness key create), mode 0600');
        // A witness that cannot read what it vouched for must not start afresh (it would cosign a rollback).
        const state = withHint(() => new WitnessState(stateDir), "restore the witness's state directory from its backup; never start it empty for a log it already cosigned");
        // One witness per state: a second one would cosign from a state the first is changing.
        const lock: DataDirLock = acquireDataDirLock(stateDir, 'witness');
        let server;
        try {
          const witness = new Witness({ key, logs, state });
          server = await startWitnessServer({ witness, port, host, log: (line) => io.err(line) }).catch((error: NodeJS.ErrnoException) => {
            throw error.code === 'EADDRINUSE' ? new PortInUseError(port) : error;
          });
        } catch (error) {
          lock.release();
          throw error;
        }
        if (lock.tookOverFrom !== undefined) io.err(`took over the lock of ${stateDir} from the ended process ${lock.tookOverFrom}`);
        const state0 = logs.map((l) => `${l.name} at size ${state.get(l.name)?.size ?? 0}`).join(', ');
        io.out(`ready: witness ${key.name} on http://${host}:${server.port} for ${state0}; state ${stateDir} (vkey ${key.verifierKey})`);
        await untilStopped();
        await server.close();
        lock.release();
        return exitCode.ok;
      },
      args.includes('--json'),
    ),
};

export const witnessCommands: readonly Command[] = [keyCreate, start];
