// The SQLite event store's writer thread (plain JavaScript, so that it runs unchanged from the
// sources and from an installation). It owns the only writing connection: each message is one
// group of appends, checked and inserted in one transaction whose fsync (synchronous=FULL)
// happens here, off the hub's event loop. While it commits, the main thread gathers the next
// group, so concurrent appends share one fsync. Events arrive with data and metadata already as
// RFC 8785 canonical text (made on the main thread), and are stored as that text.
import { parentPort, workerData } from 'node:worker_threads';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');
const insert = db.prepare('INSERT INTO events (position, stream, stream_revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
const byId = db.prepare('SELECT stream, type, data, metadata, position FROM events WHERE event_id = ?');
const streamHead = db.prepare('SELECT MAX(stream_revision) AS rev FROM events WHERE stream = ?');
const size = db.prepare('SELECT MAX(position) AS last FROM events');
let next = (size.get().last ?? -1) + 1;
// In a store created before canonical text, older rows hold JSON.stringify text: compared by value.
const canonicalText = workerData.canonicalText === true;
const sameJson = (stored, canonical) => stored === canonical || (!canonicalText && isDeepStrictEqual(JSON.parse(stored), JSON.parse(canonical)));

function plan(p, heads, ids, recordedAt) {
  const positions = [];
  const fresh = [];
  for (const event of p.events) {
    const existing = ids.get(event.eventId) ?? byId.get(event.eventId);
    if (existing) {
      const same = existing.stream === p.stream && existing.type === event.type && sameJson(existing.data, event.dataJson) && sameJson(existing.metadata, event.metadataJson);
      if (!same) return { error: { kind: 'duplicate', eventId: event.eventId } };
      positions.push(existing.position);
    } else if (fresh.some((f) => f.eventId === event.eventId)) {
      return { error: { kind: 'duplicate', eventId: event.eventId } };
    } else {
      fresh.push(event);
      positions.push(-1);
    }
  }
  const head = heads.has(p.stream) ? heads.get(p.stream) : (streamHead.get(p.stream).rev ?? undefined);
  if (fresh.length === 0) return { ok: { nextExpectedRevision: head ?? -1, positions } };
  const expected = p.expected;
  const violated = (expected === 'no-stream' && head !== undefined) || (expected === 'stream-exists' && head === undefined) || (typeof expected === 'number' && head !== expected);
  if (violated) return { error: { kind: 'wrong-revision', stream: p.stream, expected, actual: head ?? 'no-stream' } };
  let revision = head ?? -1;
  let f = 0;
  for (let i = 0; i < positions.length; i++) {
    if (positions[i] !== -1) continue;
    const event = fresh[f++];
    revision++;
    const position = next++;
    insert.run(position, p.stream, revision, event.eventId, event.type, event.dataJson, event.metadataJson, recordedAt);
    positions[i] = position;
    ids.set(event.eventId, { stream: p.stream, type: event.type, data: event.dataJson, metadata: event.metadataJson, position });
  }
  heads.set(p.stream, revision);
  return { ok: { nextExpectedRevision: revision, positions } };
}

parentPort.on('message', (message) => {
  if (message.close) {
    db.close();
    parentPort.close();
    return;
  }
  const start = next;
  const outcomes = [];
  try {
    db.transaction(() => {
      const heads = new Map();
      const ids = new Map();
      for (const p of message.batch) outcomes.push(plan(p, heads, ids, message.recordedAt));
    }).immediate();
    parentPort.postMessage({ id: message.id, outcomes, next });
  } catch (error) {
    next = start;
    parentPort.postMessage({ id: message.id, error: { message: String(error?.message ?? error), code: error?.code }, next });
  }
});
parentPort.postMessage({ ready: true, next });
