// Connections per certificate on the hub's own nats-server. nats-server 2.10 has no per-user
// connection limit in a static user list (only per account, and every party shares the one
// account with the hub's streams), so the hub enforces it: it counts each user's connections
// on the server's local monitoring endpoint (`/connz?auth=true`, 127.0.0.1 only) and a
// certificate holding more than the limit loses its user for a while (the reload closes all
// its connections and refuses new ones), then gets it back. The hub's own users are exempt.
export interface ConnectionLimiterOptions {
  /** `http://127.0.0.1:<port>` of the nats-server's monitoring endpoint. */
  readonly monitorUrl: string;
  readonly maxPerCertificate: number;
  readonly blockMs: number;
  /** Users never blocked (the hub's own). */
  readonly exempt: (user: string) => boolean;
  /** The blocked set changed: regenerate and reload the users. */
  readonly onChange: () => void;
  readonly onBlocked: (user: string, connections: number) => void;
  readonly onReleased?: (user: string) => void;
  readonly onError?: (error: Error) => void;
  readonly intervalMs?: number;
  readonly now?: () => number;
}

export interface ConnectionLimiter {
  /** NATS users (a certificate's e-mail SAN) without a user for now. */
  readonly blocked: ReadonlySet<string>;
  readonly stats: { blocks: number };
  /** One round: count, block, release (the timer calls it). */
  check(): Promise<void>;
  stop(): void;
}

interface Connz {
  readonly connections?: readonly { readonly authorized_user?: string }[];
}

export function startConnectionLimiter(options: ConnectionLimiterOptions): ConnectionLimiter {
  const now = options.now ?? Date.now;
  const until = new Map<string, number>();
  const blocked = new Set<string>();
  const stats = { blocks: 0 };
  let running = false;
  const check = async () => {
    if (running) return;
    running = true;
    try {
      let changed = false;
      for (const [user, end] of until) {
        if (now() < end) continue;
        until.delete(user);
        blocked.delete(user);
        options.onReleased?.(user);
        changed = true;
      }
      const response = await fetch(`${options.monitorUrl}/connz?auth=true&limit=100000`, { signal: AbortSignal.timeout(2000) });
      const connz = (await response.json()) as Connz;
      const counts = new Map<string, number>();
      for (const c of connz.connections ?? []) {
        if (c.authorized_user) counts.set(c.authorized_user, (counts.get(c.authorized_user) ?? 0) + 1);
      }
      for (const [user, n] of counts) {
        if (n <= options.maxPerCertificate || blocked.has(user) || options.exempt(user)) continue;
        blocked.add(user);
        until.set(user, now() + options.blockMs);
        stats.blocks++;
        options.onBlocked(user, n);
        changed = true;
      }
      if (changed) options.onChange();
    } catch (error) {
      options.onError?.(error as Error);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), options.intervalMs ?? 1000);
  timer.unref();
  return { blocked, stats, check, stop: () => clearInterval(timer) };
}
