/**
 * A multi-host DATABASE_URL, as libpq reads it and node-postgres does not:
 * `postgresql://user:pw@db-a:5432,db-b:5432/roster?target_session_attrs=read-write`. Roster
 * connects to the first host that answers and, with `read-write` (or `primary`), is not a standby
 * (`pg_is_in_recovery()`); every new connection of the pool checks it again, so that after a
 * failover the pool finds the new primary by itself: a connection that fails, or lands on a
 * server that became a standby, makes the pool look for the primary among the hosts again.
 * pg_auto_failover's monitor gives such a URL (`pg_autoctl show uri --formation default`).
 */
import pg from 'pg';

/** One host of the list. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A URL naming several hosts: each one, and the URL of each alone. */
export interface MultiHostUrl {
  readonly hosts: readonly HostPort[];
  /** Whether only a read-write server will do (target_session_attrs=read-write or primary). */
  readonly readWrite: boolean;
  /** The URL with the host list replaced by one host. */
  urlFor(host: HostPort): string;
}

const URL_SHAPE = /^(postgres(?:ql)?:\/\/)([^@/]*@)?([^/?#]*)([^?#]*)(\?[^#]*)?$/;

/** The hosts of a URL that names more than one; undefined for a single host. */
export function parseMultiHostUrl(url: string): MultiHostUrl | undefined {
  const match = URL_SHAPE.exec(url);
  if (match === null || !(match[3] ?? '').includes(',')) return undefined;
  const [, scheme = '', credentials = '', list = '', path = '', query = ''] = match;
  const hosts = list.split(',').map((entry) => {
    const at = entry.lastIndexOf(':');
    const bracketed = entry.startsWith('[');
    const hasPort = at > 0 && (!bracketed || entry.lastIndexOf(']') < at);
    return {
      host: hasPort ? entry.slice(0, at) : entry,
      port: hasPort ? Number(entry.slice(at + 1)) : 5432,
    };
  });
  const params = new URLSearchParams(query.replace(/^\?/, ''));
  const attrs = params.get('target_session_attrs') ?? 'any';
  params.delete('target_session_attrs');
  const rest = params.toString();
  return {
    hosts,
    readWrite: attrs === 'read-write' || attrs === 'primary',
    urlFor: ({ host, port }) =>
      `${scheme}${credentials}${host}:${port}${path}${rest === '' ? '' : `?${rest}`}`,
  };
}

/** Whether a server accepts writes. */
async function isWritable(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ standby: boolean }>(
    'SELECT pg_is_in_recovery() AS standby',
  );
  return rows[0]?.standby === false;
}

/**
 * A pg.Pool over a host list: connections go to the host found last; a connection that cannot
 * be made, or that lands on a standby when only a primary will do, sends the pool looking for
 * the host that qualifies (in list order) before failing this one attempt.
 */
export function multiHostPool(
  url: MultiHostUrl,
  config: pg.PoolConfig,
): { pool: pg.Pool; findHost: () => Promise<void> } {
  let current = url.hosts[0] as HostPort;
  let searching: Promise<void> | undefined;
  const settings = (host: HostPort): pg.ClientConfig => ({
    ...config,
    connectionString: url.urlFor(host),
  });
  /** Finds the first host that answers (and is writable, when asked); keeps the last otherwise. */
  const search = () =>
    (searching ??= (async () => {
      for (const host of url.hosts) {
        const probe = new pg.Client({ ...settings(host), connectionTimeoutMillis: 2_000 });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          if (!url.readWrite || (await isWritable(probe))) {
            current = host;
            pool.options.connectionString = url.urlFor(host);
            return;
          }
        } catch {
          // Down or unreachable: the next host.
        } finally {
          await probe.end().catch(() => undefined);
        }
      }
    })().finally(() => {
      searching = undefined;
    }));

  class FailoverClient extends pg.Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(
      callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void),
    ): Promise<pg.Client> | void {
      const checked = (async () => {
        try {
          await super.connect();
        } catch (error) {
          void search();
          throw error;
        }
        if (url.readWrite && !(await isWritable(this).catch(() => false))) {
          await this.end().catch(() => undefined);
          void search();
          // 57P03 cannot_connect_now: unavailable for now, as a server starting up says.
          throw Object.assign(
            new Error(
              `${current.host}:${current.port} is a standby (read-only): looking for the primary among ${url.hosts.length} hosts`,
            ),
            { code: '57P03' },
          );
        }
        return this as pg.Client;
      })();
      if (callback === undefined) return checked;
      const done = callback as (err: Error | null, c?: pg.Client) => void;
      checked.then(
        (client) => done(null, client),
        (error: Error) => done(error),
      );
    }
  }

  const pool: pg.Pool = new pg.Pool({
    ...config,
    connectionString: url.urlFor(current),
    Client: FailoverClient,
  });
  return { pool, findHost: search };
}
