import { readFile } from 'node:fs/promises';
import {
  BirthRegisteredDataSchema,
  BirthRegisteredSchema,
  joinBirth,
  parseRegisterKey,
  readBirthMessage,
  readBirthMessageOf,
  render131011,
  toElterngeldDataSet,
  XmlCodecError,
  type BirthRegisteredData,
} from '../../../contracts/index.ts';
import { z } from 'zod';
import { PostalAddressSchema, type Author } from '../../../contracts/index.ts';
import { testStandesamt } from '../../../contracts/src/testing/messageInfo.ts';
import { exitCode, parseCommandArgs, UsageError, type Command, type Io } from './command.ts';

function refuse(io: Io, error: { code: string; message: string; path?: string }): number {
  io.out(JSON.stringify({ error: { code: error.code, message: error.message, ...(error.path ? { path: error.path } : {}) } }));
  return exitCode.invalidInput;
}

async function readText(file: string, io: Io): Promise<string | number> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    return refuse(io, { code: 'unreadable', message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}` });
  }
}

const xmlParse: Command = {
  path: ['xml', 'parse'],
  summary: 'read an XPersonenstand birth message (081020/081021); with --with and --register, the joined registration',
  usage: 'elfe xml parse FILE [--with 081021.xml --register 11007007/G/2026/334] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, { with: { type: 'string' }, register: { type: 'string' }, json: { type: 'boolean' } });
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw new UsageError('expects exactly one FILE');
    const xml = await readText(file, io);
    if (typeof xml === 'number') return xml;
    const show = (value: unknown) => io.out(values.json ? JSON.stringify(value) : JSON.stringify(value, null, 2));
    if (values.register === undefined) {
      if (values.with !== undefined) throw new UsageError('--with needs --register (the key assigned at Beurkundung)');
      const read = readBirthMessage(xml);
      if (!read.success) return refuse(io, read.error);
      show(read.data);
      return exitCode.ok;
    }
    const key = parseRegisterKey(values.register);
    if (!key.success) return refuse(io, { code: 'invalid-register-key', message: key.error.message });
    const notice = readBirthMessageOf('081020', xml);
    if (!notice.success) return refuse(io, notice.error);
    let supplement;
    if (values.with !== undefined) {
      const xml2 = await readText(values.with, io);
      if (typeof xml2 === 'number') return xml2;
      const read = readBirthMessageOf('081021', xml2);
      if (!read.success) return refuse(io, read.error);
      supplement = read.data;
    }
    const joined = joinBirth(notice.data, supplement, key.data);
    if (!joined.success) return refuse(io, joined.error);
    show(joined.data);
    return exitCode.ok;
  },
};

const AuthorSchema = z.object({ dvdv: z.string().min(1), name: z.string().min(1), phone: z.string().min(1), address: PostalAddressSchema }).strict();

function birthFrom(json: unknown): BirthRegisteredData | undefined {
  const event = BirthRegisteredSchema.safeParse(json);
  if (event.success) return event.data.data;
  const data = BirthRegisteredDataSchema.safeParse(json);
  return data.success ? data.data : undefined;
}

const xmlRender: Command = {
  path: ['xml', 'render'],
  summary: 'write 131011 (Standesamt → Elterngeldstelle) for a BirthRegistered event or its data',
  usage: 'elfe xml render 131011 --input BIRTH.json [--author STANDESAMT.json] [--to egs:04011000] [--message-id UUID]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(args, {
      input: { type: 'string' },
      to: { type: 'string' },
      'message-id': { type: 'string' },
      author: { type: 'string' },
    });
    if (positionals.length !== 1 || positionals[0] !== '131011') throw new UsageError('the only message rendered is 131011');
    if (values.input === undefined) throw new UsageError('--input BIRTH.json is required');
    const text = await readText(values.input, io);
    if (typeof text === 'number') return text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return refuse(io, { code: 'malformed', message: `${values.input} is not JSON` });
    }
    const birth = birthFrom(json);
    if (!birth) return refuse(io, { code: 'invalid-contract', message: 'input is neither a BirthRegistered event nor its data' });
    const dataSet = toElterngeldDataSet(birth);
    if (!dataSet.success) {
      return refuse(io, new XmlCodecError('missing-consent', `no 131011 may be sent: ${dataSet.reason}`, '/'));
    }
    const recipient = values.to ?? birth.consent.zustaendigeElterngeldstelle;
    if (!recipient) throw new UsageError('--to DVDV is required when the registration names no zustaendigeElterngeldstelle');
    // The XÖV header needs the Standesamt's reachability and postal address. Without
    // --author the message carries fictional header data and is marked as a test message.
    let author: Author = testStandesamt;
    if (values.author !== undefined) {
      const authorText = await readText(values.author, io);
      if (typeof authorText === 'number') return authorText;
      const parsed = AuthorSchema.safeParse(JSON.parse(authorText));
      if (!parsed.success) return refuse(io, { code: 'invalid-contract', message: `--author: ${parsed.error.issues[0]?.message ?? 'invalid'}` });
      author = parsed.data;
    } else {
      io.err('note: no --author given; the header uses fictional Standesamt data and test="test"');
    }
    io.out(
      render131011(dataSet.data, {
        messageId: values['message-id'] ?? crypto.randomUUID(),
        createdAt: new Date().toISOString(),
        author,
        reader: { dvdv: recipient, name: 'Elterngeldstelle' },
        test: values.author === undefined,
      }),
    );
    return exitCode.ok;
  },
};

export const xmlCommands: readonly Command[] = [xmlParse, xmlRender];
