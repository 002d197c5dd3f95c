// One logger for the hub and every connector: JSON lines on stderr (pino), one line per
// event, `{level,time,component,event,...}`. Never personal data: log ids, counts, codes and
// reasons, never message bodies, names or IdNrs (fields named like them are redacted anyway).
// stdout stays for what supervisors and tests read (the `ready: …` line).
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Structured event: `event` names what happened; `fields` say which ids and why. */
export type EventLog = (event: string, fields?: Record<string, unknown>, message?: string) => void;

const redact = {
  paths: ['idnr', '*.idnr', 'childIdNr', '*.childIdNr', 'parent1IdNr', 'parent2IdNr', 'name', '*.name', 'req.headers.authorization', 'body', '*.body'],
  censor: '[redacted]',
};

export function createLogger(component: string, options: { destination?: DestinationStream; level?: string } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env['ELFE_LOG_LEVEL'] ?? 'info',
      base: { component },
      redact,
      // Every line names its event; the HTTP server's own request lines get one too.
      mixin: (merge) => ('event' in merge ? {} : { event: 'req' in merge ? 'http.request' : 'res' in merge ? 'http.response' : 'log' }),
    },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** `(event, fields)` on a logger. */
export const eventLog =
  (logger: Logger): EventLog =>
  (event, fields = {}, message) =>
    logger.info({ ...fields, event }, message ?? event);

/** For code that reports plain lines (retries, refusals): each line one event of the given name. */
export const lineLog =
  (logger: Logger, event: string): ((line: string) => void) =>
  (line) =>
    logger.info({ event }, line);
