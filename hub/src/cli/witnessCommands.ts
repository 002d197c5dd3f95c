// `elfe witness …`: a C2SP tlog-witness for the hub's log, run by someone other than the hub
// operator (e.g. the data-protection authority), with its own key and its own state.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseVerifierKey, type NoteVerifier } from '../../../contracts/index.ts';
import { Witness } from '../witness/witness.ts';
import { createWitnessKey, readWitnessKey, WitnessKeyError } from '../witness/witnessKey.ts';
import { startWitnessServer } from '../witness/witnessServer.ts';
import { WitnessState, WitnessStateError } from '../witness/witnessState.ts';
import { exitCode, parseCommandArgs, UsageError, type Command } from './command.ts';

/** A log verifier key given inline or as a file holding it. */
function logVerifier(value: string): NoteVerifier {
  const inline = parseVerifierKey(value);
  if (inline.success) return inline.data;
  if (existsSync(value)) {
    const fromFile = parseVerifierKey(readFileSync(value, 'utf8'));
    if (fromFile.success) return fromFile.data;
    throw new UsageError(`--log ${value}: ${fromFile.error.message}`);
  }
  throw new UsageError(`--log: ${inline.error.message} (give the hub's verifier key, from \`elfe keys show\`, or a file holding it)`);
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

const start: Command = {
  path: ['witness', 'start'],
  summary: 'run a witness: POST /add-checkpoint verifies consistency and cosigns (C2SP tlog-witness)',
  usage: 'elfe witness start --key FILE --log VERIFIER_KEY [--log …] [--port P] [--host H] [--state DIR]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      key: { type: 'string' },
      log: { type: 'string', multiple: true },
      port: { type: 'string' },
      host: { type: 'string' },
      state: { type: 'string' },
    });
    if (!values.key) throw new UsageError('--key FILE is required (elfe witness key create)');
    if (!values.log || values.log.length === 0) throw new UsageError('--log VERIFIER_KEY is required: the log(s) this witness vouches for');
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port is a TCP port');
    const logs = values.log.map(logVerifier);
    let witness: Witness;
    let key;
    try {
      key = readWitnessKey(path.resolve(values.key));
      const state = new WitnessState(path.resolve(values.state ?? path.join('data', 'witness')));
      witness = new Witness({ key, logs, state });
    } catch (error) {
      if (error instanceof WitnessKeyError || error instanceof WitnessStateError) {
        io.err(`elfe witness start: ${error.message}`);
        return exitCode.failed;
      }
      throw error;
    }
    const server = await startWitnessServer({ witness, port, ...(values.host ? { host: values.host } : {}), log: (line) => io.err(line) });
    io.out(`ready: witness ${key.name} on http://${values.host ?? '127.0.0.1'}:${server.port} for ${logs.map((l) => l.name).join(', ')} (vkey ${key.verifierKey})`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    await server.close();
    return exitCode.ok;
  },
};

export const witnessCommands: readonly Command[] = [keyCreate, start];
