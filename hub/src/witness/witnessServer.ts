// The witness's HTTP face: `POST /add-checkpoint` and nothing else. Requests are bounded in
// size (413) and time (slow senders are cut off), bodies must be UTF-8, and every refusal is a
// log line, since a refused checkpoint may be evidence of a misbehaving log.
import http from 'node:http';
import type { Witness } from './witness.ts';

export interface WitnessServerOptions {
  readonly witness: Witness;
  readonly port?: number;
  readonly host?: string;
  /** Largest request body accepted (default 64 KiB). */
  readonly maxBodyBytes?: number;
  /** Time allowed for a whole request (default 10 s). */
  readonly requestTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface WitnessServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startWitnessServer(options: WitnessServerOptions): Promise<WitnessServer> {
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  const say = options.log ?? (() => undefined);
  const reply = (res: http.ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8') => {
    if (res.headersSent) return;
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' }).end(body);
  };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url !== '/add-checkpoint') return reply(res, 404, 'not found\n');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return reply(res, 405, 'use POST\n');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody) {
      reply(res, 413, `at most ${maxBody} bytes\n`);
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    req.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBody) {
        reply(res, 413, `at most ${maxBody} bytes\n`);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (received > maxBody) return;
      let body: string;
      try {
        body = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        return reply(res, 400, 'the body is not UTF-8\n');
      }
      options.witness.addCheckpoint(body).then(
        (r) => {
          say(`${r.status === 200 ? 'cosigned' : 'REFUSED'} ${r.status} ${r.origin ?? '-'}: ${r.reason}`);
          reply(res, r.status, r.body, r.contentType);
        },
        (error: unknown) => {
          // Persisting failed: nothing was cosigned.
          say(`ERROR ${(error as Error).message}`);
          reply(res, 500, 'internal error\n');
        },
      );
    });
  });
  server.requestTimeout = options.requestTimeoutMs ?? 10_000;
  server.headersTimeout = Math.min(server.requestTimeout, 5_000);
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
