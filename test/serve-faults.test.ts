/**
 * `roster serve` under abuse and faults, as a real process with the production pool settings:
 * hundreds of concurrent requests on every route (with random and valid tokens), a pool starved
 * by requests blocked on a lock, a database that goes down, malformed parameters, and SIGTERM
 * with requests in flight.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../src/store/api-keys.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startServe, type ServeProcess } from './support/serve-process.js';
import { linkOf, recipientOf, startSmtp, type CapturingSmtp } from './support/smtp.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let smtp: CapturingSmtp;
let key: string;
const MEMBERS = Array.from({ length: 12 }, (_, i) => `member${i}@acme.io`);

beforeAll(async () => {
  db = await createTestDatabase();
  smtp = await startSmtp();
  ws = createWorkspace(db.url);
  ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', MEMBERS)].join('---\n'));
  const run = await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes'], {
    SMTP_URL: smtp.url,
    ROSTER_PUBLIC_URL: 'http://roster.test',
  });
  expect(run.status, run.stderr).toBe(0);
  key = await createApiKey(db.pool, 'load', { organizations: ['acme'] });
});
afterAll(async () => {
  ws.dispose();
  await smtp.close();
  await db.drop();
});

/** The token mailed to `user`. */
const tokenOf = (user: string) => {
  const mail = smtp.messages.find((m) => recipientOf(m) === user);
  if (mail === undefined) throw new Error(`no mail to ${user}`);
  return linkOf(mail).split('/').pop() ?? '';
};
const randomToken = () => randomBytes(32).toString('base64url');
const bearer = () => ({ authorization: `Bearer ${key}` });

/** One request with a deadline: a server that hangs fails the test instead of stalling it. */
async function request(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string; body: string; headers: Headers }> {
  const response = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(20_000),
    ...init,
  });
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: await response.text(),
    headers: response.headers,
  };
}
const post = (url: string) => request(url, { method: 'POST' });

describe('hundreds of concurrent requests', () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    // The smallest pool serve accepts, so that contention is certain.
    serve = await startServe({ DATABASE_URL: db.url }, [
      '--delivery-interval',
      '0',
      '--db-connections',
      '2',
    ]);
  });
  afterAll(async () => {
    await serve.terminate();
  });

  it('answers every one, accepts a token exactly once, and stays ready', async () => {
    const one = tokenOf(MEMBERS[0] ?? '');
    const other = tokenOf(MEMBERS[1] ?? '');
    const api = (path: string) => request(`${serve.base}${path}`, { headers: bearer() });
    const batches = {
      randomAccepts: Array.from({ length: 120 }, () =>
        post(`${serve.base}/invitations/${randomToken()}/accept`),
      ),
      randomViews: Array.from({ length: 80 }, () =>
        request(`${serve.base}/invitations/${randomToken()}`),
      ),
      sameToken: Array.from({ length: 60 }, () => post(`${serve.base}/invitations/${one}/accept`)),
      otherToken: Array.from({ length: 20 }, () =>
        post(`${serve.base}/invitations/${other}/accept`),
      ),
      checks: Array.from({ length: 60 }, (_, i) =>
        api(
          `/api/v1/check?user=${encodeURIComponent(MEMBERS[i % MEMBERS.length] ?? '')}&permission=resources.create&org=acme`,
        ),
      ),
      switchLists: Array.from({ length: 40 }, () =>
        api('/api/v1/users/alice%40acme.io/organizations'),
      ),
      contacts: Array.from({ length: 20 }, () => api('/api/v1/organizations/acme/contacts')),
      probes: Array.from({ length: 20 }, (_, i) =>
        request(`${serve.base}${i % 2 === 0 ? '/readyz' : '/healthz'}`),
      ),
    };
    const settled = Object.fromEntries(
      await Promise.all(
        Object.entries(batches).map(async ([name, list]) => [name, await Promise.all(list)]),
      ),
    ) as Record<keyof typeof batches, Awaited<ReturnType<typeof request>>[]>;
    const statuses = (name: keyof typeof batches) =>
      [...new Set(settled[name].map((r) => r.status))].sort();

    expect(statuses('randomAccepts')).toEqual([404]);
    expect(statuses('randomViews')).toEqual([404]);
    expect(settled.sameToken.filter((r) => r.status === 303)).toHaveLength(1);
    expect(settled.sameToken.filter((r) => r.status === 410)).toHaveLength(59);
    expect(settled.otherToken.filter((r) => r.status === 303)).toHaveLength(1);
    expect(settled.otherToken.filter((r) => r.status === 410)).toHaveLength(19);
    expect(statuses('checks')).toEqual([200]);
    expect(statuses('switchLists')).toEqual([200]);
    expect(statuses('contacts')).toEqual([200]);
    expect(settled.probes.every((r) => r.status === 200 || r.status === 503)).toBe(true);

    // Accepted once: one membership active for each token, one notification's worth of change.
    const { rows } = await db.pool.query(
      `SELECT u.email, m.status FROM memberships m JOIN users u USING (user_id)
        WHERE u.email = ANY($1) ORDER BY u.email`,
      [[MEMBERS[0], MEMBERS[1]]],
    );
    expect(rows).toEqual([
      { email: MEMBERS[0], status: 'active' },
      { email: MEMBERS[1], status: 'active' },
    ]);

    // And afterwards it is ready, alive and answering.
    expect((await request(`${serve.base}/readyz`)).status).toBe(200);
    expect((await request(`${serve.base}/healthz`)).status).toBe(200);
    expect((await api('/api/v1/users/member0%40acme.io/organizations')).body).toContain('"acme"');
  }, 120_000);
});

describe('a starved pool', () => {
  it('answers 503 with Retry-After, says so on /readyz and /healthz, recovers, and shuts down within the grace period', async () => {
    const serve = await startServe(
      {
        DATABASE_URL: db.url,
        ROSTER_DB_ACQUIRE_TIMEOUT_MS: '800',
        ROSTER_READY_STALL_MS: '300',
        ROSTER_LIVE_STALL_MS: '1500',
      },
      ['--delivery-interval', '0', '--db-connections', '2', '--shutdown-timeout', '1s'],
    );
    // Every accept now waits on this lock while holding one of the pool's two connections.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE invitations IN ACCESS EXCLUSIVE MODE');
    try {
      const blocked = Array.from({ length: 6 }, () =>
        post(`${serve.base}/invitations/${randomToken()}/accept`).catch((e: Error) => e),
      );
      await new Promise((resolve) => setTimeout(resolve, 400));

      const check = await request(
        `${serve.base}/api/v1/check?user=a%40acme.io&permission=billing.view&org=acme`,
        { headers: bearer() },
      );
      expect(check.status).toBe(503);
      expect(check.headers.get('retry-after')).toBe('5');
      expect(JSON.parse(check.body)).toEqual({
        error: 'the access database is unavailable or busy; try again shortly',
      });
      const page = await request(`${serve.base}/invitations/${randomToken()}`);
      expect(page.status).toBe(503);
      expect(page.type).toContain('text/html');
      expect(page.body).toContain('Try again in a moment');

      const ready = await request(`${serve.base}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatch(/every database connection has been busy/);
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      const alive = await request(`${serve.base}/healthz`);
      expect(alive.status).toBe(503);
      expect(alive.body).toMatch(/no database connection has been returned/);

      // SIGTERM with requests still blocked: the process exits within the grace period.
      const stopped = await serve.terminate();
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(5_000);
      expect(serve.stderr()).toMatch(/still in flight after 1000 ms; closing their connections/);
      const outcomes = await Promise.all(blocked);
      expect(
        outcomes.every((o) => o instanceof Error || o.status === 404 || o.status === 503),
      ).toBe(true);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
      await serve.terminate();
    }
  }, 60_000);

  it('recovers by itself once the connections come back', async () => {
    const serve = await startServe(
      {
        DATABASE_URL: db.url,
        ROSTER_DB_ACQUIRE_TIMEOUT_MS: '800',
        ROSTER_READY_STALL_MS: '300',
      },
      ['--delivery-interval', '0', '--db-connections', '2'],
    );
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE invitations IN ACCESS EXCLUSIVE MODE');
    const blocked = Array.from({ length: 4 }, () =>
      post(`${serve.base}/invitations/${randomToken()}/accept`),
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await request(`${serve.base}/readyz`)).status).toBe(503);
    await locker.query('ROLLBACK');
    await locker.end();
    expect((await Promise.all(blocked)).map((r) => r.status)).toEqual([404, 404, 404, 404]);
    expect((await request(`${serve.base}/readyz`)).status).toBe(200);
    expect((await request(`${serve.base}/healthz`)).status).toBe(200);
    await serve.terminate();
  }, 60_000);
});

describe('a database that goes down', () => {
  let proxy: TcpProxy;
  let serve: ServeProcess;
  beforeAll(async () => {
    const url = new URL(db.url);
    proxy = await startTcpProxy(url.hostname, Number(url.port));
    url.port = String(proxy.port);
    serve = await startServe(
      { DATABASE_URL: url.toString(), ROSTER_DB_ACQUIRE_TIMEOUT_MS: '2000' },
      ['--delivery-interval', '0'],
    );
  });
  afterAll(async () => {
    await serve.terminate();
    await proxy.close();
  });

  it('answers 503 with Retry-After (JSON on the API, a page on the invitation path) and recovers', async () => {
    expect((await request(`${serve.base}/readyz`)).status).toBe(200);
    await proxy.cut();

    const api = await request(`${serve.base}/api/v1/organizations/acme/contacts`, {
      headers: bearer(),
    });
    expect(api.status).toBe(503);
    expect(api.type).toContain('application/json');
    expect(api.headers.get('retry-after')).toBe('5');
    const accept = await post(`${serve.base}/invitations/${randomToken()}/accept`);
    expect(accept.status).toBe(503);
    expect(accept.type).toContain('text/html');
    expect(accept.body).toContain('Nothing was changed');
    expect((await request(`${serve.base}/readyz`)).status).toBe(503);
    // A database outage is no reason to restart the process.
    expect((await request(`${serve.base}/healthz`)).status).toBe(200);

    await proxy.restore();
    const back = await request(`${serve.base}/api/v1/organizations/acme/contacts`, {
      headers: bearer(),
    });
    expect(back.status).toBe(200);
    expect((await request(`${serve.base}/readyz`)).status).toBe(200);

    const metrics = (await request(`${serve.base}/metrics`)).body;
    expect(metrics).toContain(
      'roster_http_requests_total{route="/api/v1/organizations/:org/contacts",status="503"} 1',
    );
    expect(metrics).toContain(
      'roster_http_requests_total{route="/invitations/:token/accept",status="503"} 1',
    );
    expect(metrics).toMatch(/roster_db_pool_connections\{state="idle"\} \d+/);
  }, 60_000);
});

describe('malformed requests', () => {
  let serve: ServeProcess;
  beforeAll(async () => {
    serve = await startServe({ DATABASE_URL: db.url }, ['--delivery-interval', '0']);
  });
  afterAll(async () => {
    await serve.terminate();
  });

  it('answers 400, not 500, to a malformed percent-escape or a NUL byte, under the real route', async () => {
    const cases: [string, string, string][] = [
      ['POST', '/invitations/%E0%A4%A/accept', '/invitations/:token/accept'],
      ['GET', '/invitations/abc%00def', '/invitations/:token'],
      ['GET', '/api/v1/users/%ZZ/organizations', '/api/v1/users/:email/organizations'],
      ['GET', '/api/v1/users/a%00b%40acme.io/organizations', '/api/v1/users/:email/organizations'],
      ['GET', '/api/v1/check?user=a%00b&permission=x&org=acme', '/api/v1/check'],
      ['GET', '/api/v1/organizations/ac%00me/contacts', '/api/v1/organizations/:org/contacts'],
    ];
    for (const [method, path] of cases) {
      const answer = await request(`${serve.base}${path}`, { method, headers: bearer() });
      expect(answer.status, `${method} ${path}`).toBe(400);
      if (path.startsWith('/api/')) expect(JSON.parse(answer.body).error).toMatch(/./);
    }
    const wrongMethod = await request(`${serve.base}/api/v1/check`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');

    const metrics = (await request(`${serve.base}/metrics`)).body;
    for (const [, , route] of cases) {
      expect(metrics).toContain(`roster_http_requests_total{route="${route}",status="400"}`);
    }
    expect(metrics).toContain('roster_http_requests_total{route="/api/v1/check",status="405"} 1');
    expect(metrics).not.toMatch(/status="500"/);
    expect(serve.stderr()).not.toMatch(/"status":500/);
  });
});
