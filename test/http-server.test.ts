/**
 * `roster serve`'s HTTP server on Fastify, over real HTTP against PostgreSQL: the OpenAPI
 * document generated from the routes' schemas, parameters checked by those schemas, body size
 * limits, unknown routes, per-key rate limiting with 429 and Retry-After, request ids in answers
 * and logs, and a client too slow to send its request.
 */
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_SCHEMA, AUDIT_SCHEMA } from '../src/server/routes.js';
import { createApiKey } from '../src/store/api-keys.js';
import { jsonLogger } from '../src/telemetry/log.js';
import { ServerMetrics } from '../src/telemetry/metrics.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startTestServer, type TestServer } from './support/http-server.js';
import { createWorkspace, TEAM_PLAN, tenant, type Workspace } from './support/workspace.js';

let db: TestDatabase;
let ws: Workspace;
let server: TestServer;
let acmeKey: string;
let otherKey: string;
const logged: Record<string, unknown>[] = [];
const metrics = new ServerMetrics();

beforeAll(async () => {
  db = await createTestDatabase();
  ws = createWorkspace(db.url);
  ws.write('t.yaml', [TEAM_PLAN, tenant('acme', 'alice@acme.io', ['bob@acme.io'])].join('---\n'));
  expect((await ws.rosterAsync(['apply', '-f', 't.yaml', '--yes', '--no-deliver'])).status).toBe(0);
  acmeKey = await createApiKey(db.pool, 'acme-app', { organizations: ['acme'] });
  otherKey = await createApiKey(db.pool, 'other-app', { organizations: ['acme'] });
  const stream = new PassThrough();
  stream.on('data', (line: Buffer) => {
    for (const text of line.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(text));
  });
  server = await startTestServer(db.pool, {
    metrics,
    log: jsonLogger(stream),
    rateLimits: { perKey: 5, perAddress: 3 },
    requestTimeoutMs: 1_000,
  });
});
afterAll(async () => {
  await server.close();
  ws.dispose();
  await db.drop();
});

const get = (path: string, key?: string, headers: Record<string, string> = {}) =>
  fetch(`${server.base}${path}`, {
    headers: { ...(key !== undefined && { authorization: `Bearer ${key}` }), ...headers },
  });
const CHECK = '/api/v1/check?user=bob%40acme.io&permission=members.view&org=acme';

describe('the HTTP server', () => {
  it('generates its OpenAPI document from the routes it serves', async () => {
    const response = await get('/api/openapi.json');
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      info: { version: string };
      paths: Record<string, { get: { parameters: { name: string; in: string }[] } }>;
      components: { securitySchemes: object };
    };
    expect(document.openapi).toBe('3.1.0');
    expect(document.components.securitySchemes).toHaveProperty('bearer');
    // The check's parameters are the route's querystring schema, as declared.
    expect(document.paths['/api/v1/check']?.get.parameters.map((p) => p.name)).toEqual(
      Object.keys(CHECK_SCHEMA.querystring.properties),
    );
    expect(document.paths['/api/v1/audit']?.get.parameters.map((p) => p.name)).toEqual(
      Object.keys(AUDIT_SCHEMA.querystring.properties),
    );
    // Pages, probes and the document itself are not API routes.
    expect(Object.keys(document.paths).every((p) => p.startsWith('/api/v1/'))).toBe(true);
  });

  it('checks parameters against the route schema: 400 with what is wrong', async () => {
    const missing = await get('/api/v1/check?user=bob%40acme.io&org=acme', otherKey);
    expect([missing.status, await missing.json()]).toEqual([
      400,
      { error: 'the query parameter "permission" is required' },
    ]);
    const tooMany = await get('/api/v1/organizations/acme/members?limit=5000', otherKey);
    expect([tooMany.status, await tooMany.json()]).toEqual([
      400,
      { error: 'the query parameter "limit" must be <= 1000' },
    ]);
    const category = await get('/api/v1/organizations/acme/contacts?category=spam', otherKey);
    expect(category.status).toBe(400);
    expect(((await category.json()) as { error: string }).error).toMatch(/"category" must be/);
  });

  it('refuses a body over the limit with 413, and answers an unknown route with 404', async () => {
    const big = await fetch(`${server.base}/invitations/abc/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `x=${'a'.repeat(20_000)}`,
    });
    expect(big.status).toBe(413);
    // Within the limit, a form's body is read and ignored: the token decides (unknown here).
    const small = await fetch(`${server.base}/invitations/abc/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });
    expect(small.status).toBe(404);
    expect(await small.text()).toMatch(/<html/);

    const unknownApi = await get('/api/v2/nothing', acmeKey);
    expect([unknownApi.status, await unknownApi.json()]).toEqual([404, { error: 'not found' }]);
    const unknownPage = await get('/nothing');
    expect([unknownPage.status, await unknownPage.text()]).toEqual([404, 'not found\n']);
    expect(await metricsText()).toMatch(
      /roster_http_requests_total\{route="unmatched",status="404"\} 2/,
    );
  });

  it('names every answer with a request id, the client’s when it sends one, and logs it by route', async () => {
    const mine = await get('/healthz', undefined, { 'x-request-id': 'deploy-42' });
    expect(mine.headers.get('x-request-id')).toBe('deploy-42');
    const generated = await get('/healthz');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await get('/invitations/secret-token-value');
    const line = logged.find((l) => l.requestId === 'deploy-42');
    expect(line).toMatchObject({ msg: 'request', route: '/healthz', status: 200, method: 'GET' });
    expect(JSON.stringify(logged)).not.toContain('secret-token-value');
    expect(logged.some((l) => l.route === '/invitations/:token')).toBe(true);
  });

  it('limits each API key on its own, answering 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6; i += 1) {
      const response = await get(CHECK, acmeKey);
      statuses.push(response.status);
      if (response.status === 429) limited = response;
      else await response.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited?.json()).toEqual({
      error: expect.stringMatching(/^too many requests: 5 a minute at most; retry after/),
    });
    // Another key is not held back by the first one's use.
    expect((await get(CHECK, otherKey)).status).toBe(200);
    // Probes are never limited: a kubelet must always get its answer.
    for (let i = 0; i < 10; i += 1) expect((await get('/readyz')).status).toBe(200);
    expect(await metricsText()).toMatch(
      /roster_http_requests_total\{route="\/api\/v1\/check",status="429"\} 1/,
    );
  });

  it('limits the invitation pages per client address (token guessing)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const response = await get(`/invitations/guess-${i}`);
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    // The three this address may make a minute went to the pages above (two accepts, one view).
    expect(statuses).toEqual([429, 429, 429, 429]);
  });

  it('closes the connection of a client that does not send its whole request in time', async () => {
    const socket = connect(Number(new URL(server.base).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never finished
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      socket.once('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

const metricsText = async () => metrics.registry.metrics();
