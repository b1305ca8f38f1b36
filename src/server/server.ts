/**
 * `roster serve`: the invitation pages, the access API, health and metrics, on Fastify
 * (docs/adr/0010-http-server-on-fastify.md). Tokens never reach a log: requests are logged by
 * route (`/invitations/:token`), with their request id.
 *
 * Every route declares JSON Schemas for its parameters and responses (routes.ts): Fastify's ajv
 * checks the parameters before a handler runs, ajv checks each response before it is sent, and
 * @fastify/swagger writes /api/openapi.json from them. Bad parameters answer 400; a database
 * that is down, out of connections or too slow answers 503 with Retry-After (as JSON on the API,
 * as a page on the invitation pages); too many requests answer 429 with Retry-After; anything
 * else is a 500 whose cause goes to the log only. Errors are counted under the route they
 * belong to, even when the path could not be decoded.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type pg from 'pg';
import { emailIdentity } from '../core/email.js';
import { UsageError } from '../core/errors.js';
import { startInstant } from '../core/expiry.js';
import { reviewHtml } from '../core/review.js';
import {
  checkAccess,
  checkAccessUntil,
  checkDelegatedAccess,
  contactsOf,
  organizationsOfUser,
} from '../store/access.js';
import {
  acceptInvitation,
  viewInvitation,
  type InvitationView,
} from '../store/accept-invitation.js';
import { effectiveBranding, logoOrigin, type Branding } from '../core/branding.js';
import { Messages } from '../core/messages.js';
import { ApiKeyVerifier, keyCovers, type ApiKeyScope } from '../store/api-keys.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { ping } from '../store/notifications.js';
import { accessReview, listAudit, listMembers } from '../store/views.js';
import type { ReadReplica } from '../store/read-replica.js';
import type { Logger } from '../telemetry/log.js';
import type { ServerMetrics } from '../telemetry/metrics.js';
import { PROBE_PATHS, probeAnswer, type Probes } from '../telemetry/probes.js';
import { ROSTER_VERSION } from '../version.js';
import type { AccessCache } from './access-cache.js';
import { invitationPage, unavailablePage, unusablePage, welcomePage, type Page } from './pages.js';
import type { PoolHealth } from './pool-health.js';
import {
  AUDIT_SCHEMA,
  CHECK_SCHEMA,
  CONTACTS_SCHEMA,
  MEMBERS_SCHEMA,
  OPENAPI_INFO,
  ORGANIZATIONS_OF_USER_SCHEMA,
} from './routes.js';

/** Requests a client may make per minute before 429: per API key on the API, per address elsewhere. */
export interface RateLimits {
  /** Per API key (or, without a valid key, per client address) on /api and /review. */
  readonly perKey: number;
  /** Per client address on the invitation pages. */
  readonly perAddress: number;
}

/** The defaults: generous for an application's backend asking many checks, tight for guessing tokens. */
export const DEFAULT_RATE_LIMITS: RateLimits = { perKey: 6000, perAddress: 300 };

/** What the server needs. */
export interface ServerOptions {
  readonly pool: pg.Pool;
  readonly metrics: ServerMetrics;
  /** Watches the pool for /healthz and /readyz; without it only a query decides readiness. */
  readonly health?: PoolHealth;
  /** Where to send a person after accepting; `?org=NAME` is added. Default: a built-in page. */
  readonly appUrl?: string;
  /** One line per request, already free of secrets. */
  readonly log?: Logger;
  /** Seconds a client is told to wait after a 503 (default 5). */
  readonly retryAfterSeconds?: number;
  /** Access decisions kept in memory, cleared on every change (see access-cache.ts). */
  readonly accessCache?: AccessCache;
  /** Requests per minute before 429 (default DEFAULT_RATE_LIMITS); null turns limiting off. */
  readonly rateLimits?: RateLimits | null;
  /** Milliseconds a client has to send a whole request (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** The pages' languages and the platform's default language and time zone (default: built-in, English, UTC). */
  readonly messages?: Messages;
  /** The platform's brand, under each organization's (default: none). */
  readonly branding?: Branding;
  /** A replica the API reads from while it is fresh enough (DATABASE_READ_URL). */
  readonly reads?: ReadReplica;
}

/** The server and what a graceful shutdown needs to know of it. */
export interface RosterServer {
  readonly server: Server;
  /** Requests being answered now. */
  inFlight(): number;
  /** From now on /readyz answers 503, so load balancers stop sending traffic. */
  drain(): void;
  /** Stops listening and resolves once the requests in flight are answered. */
  close(): Promise<void>;
}

/** The largest request body accepted (the accept form posts none): 413 above it. */
export const BODY_LIMIT_BYTES = 16 * 1024;

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

/** A failure with the status it answers. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** How errors are answered on a route: JSON (the API) or an HTML page (the invitation pages). */
type Audience = 'api' | 'page' | 'plain';

/** What each route declares besides its schema. */
interface RouteConfig {
  readonly audience: Audience;
  /** Which bucket limits it: the API key's, the client address's, or none (probes). */
  readonly limit: 'key' | 'address' | 'none';
}

declare module 'fastify' {
  interface FastifyContextConfig {
    audience?: Audience;
    limit?: RouteConfig['limit'];
  }
  interface FastifyRequest {
    /** The verified API key of the request, once the rate limiter or a handler looked. */
    apiKey: ApiKeyScope | null | undefined;
    /** The route a request whose path could not be decoded was meant for. */
    intendedRoute: string | undefined;
  }
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** Creates the server (not yet listening). */
export async function createRosterServer(options: ServerOptions): Promise<Server> {
  return (await createRosterService(options)).server;
}

/** Creates the server with the hooks `roster serve` uses to shut down gracefully. */
export async function createRosterService(options: ServerOptions): Promise<RosterServer> {
  const keys = new ApiKeyVerifier(options.pool);
  const { metrics, pool, health } = options;
  /** Where an API read goes: the replica while within its staleness bound, else the primary. */
  const reader = (): { pool: pg.Pool; replica: boolean } => {
    const chosen = options.reads?.choose() ?? { pool, replica: false };
    metrics.reads.inc({ target: chosen.replica ? 'replica' : 'primary' });
    return chosen;
  };
  const messages = options.messages ?? new Messages();
  const platformBrand = options.branding ?? {};
  /** A page no invitation names is in the reader's language (Accept-Language), else the platform's. */
  const unknownReader = (request: FastifyRequest) =>
    messages.for(Messages.acceptLanguage(request.headers['accept-language']));
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  let draining = false;
  let inFlight = 0;

  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    // node:http enforces requestTimeout (a client that never finishes its request gets 408 and
    // a closed connection), checking every connectionsCheckingInterval: at most a quarter late.
    serverFactory: (handler) =>
      createServer(
        {
          requestTimeout,
          headersTimeout: Math.min(requestTimeout, 60_000),
          connectionsCheckingInterval: Math.max(250, Math.min(30_000, requestTimeout / 4)),
        },
        handler,
      ),
    // Addresses in paths may be long; the default (100) would answer 404 to a real address.
    routerOptions: { maxParamLength: 1024 },
    // A client's id is kept when it is a sane one, so a request can be followed across services.
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Requests are logged below, by route (never by URL: it may hold an invitation token).
    logger: false,
    // A path that cannot be decoded answers 400 under the route it was meant for.
    // (Fastify runs no hooks for these: they are recorded here.)
    frameworkErrors: (error, request, reply) => {
      request.intendedRoute = intendedRoute(request.method, request.url);
      reply.raw.once('finish', () => record(request, reply));
      const audience = audienceOf(request);
      void answerFailure(
        reply,
        audience,
        new HttpError(
          400,
          error.code === 'FST_ERR_BAD_URL'
            ? 'the path has a malformed percent-escape'
            : error.message,
        ),
      );
    },
  });
  const routeTable: { method: string; url: string; pattern: RegExp }[] = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, '[^/]+')}$`);
    for (const method of methods) routeTable.push({ method, url: route.url, pattern });
  });
  const intendedRoute = (method: string, url: string) => {
    const path = url.split('?')[0] ?? '';
    return routeTable.find((r) => r.method === method && r.pattern.test(path))?.url;
  };
  app.decorateRequest('apiKey', undefined);
  app.decorateRequest('intendedRoute', undefined);

  // Responses are checked against their route's schema by ajv, then written by JSON.stringify:
  // a field missing from a schema is an error in tests, never silently dropped from an answer.
  const responses = new Ajv({ allErrors: false, strict: false, validateFormats: false });
  app.setSerializerCompiler(({ schema, url, httpStatus }) => {
    const validate = responses.compile(schema);
    return (data) => {
      if (!validate(data)) {
        throw new Error(
          `the ${httpStatus} response of ${url} does not match its schema: ${responses.errorsText(validate.errors)}`,
        );
      }
      return `${JSON.stringify(data)}\n`;
    };
  });

  await app.register(swagger, {
    openapi: { ...OPENAPI_INFO, info: { ...OPENAPI_INFO.info, version: ROSTER_VERSION } },
    hideUntagged: false,
  });

  const limits = options.rateLimits === undefined ? DEFAULT_RATE_LIMITS : options.rateLimits;
  if (limits !== null) {
    await app.register(rateLimit, {
      global: true,
      timeWindow: 60_000,
      // The bucket is the verified API key's (a bad key is the client address's, so random keys
      // cannot each get a fresh bucket); the key's check is kept for the handler.
      keyGenerator: async (request) => {
        const config = request.routeOptions.config;
        if (config.limit === 'key') {
          const scope = await verifiedKey(request);
          if (scope !== null) return `key:${scope.name}`;
        }
        return `address:${request.ip}`;
      },
      max: (_request, key) => (key.startsWith('key:') ? limits.perKey : limits.perAddress),
      allowList: (request) =>
        request.routeOptions.config.limit === 'none' || request.routeOptions.url === undefined,
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          429,
          `too many requests: ${context.max} a minute at most; retry after ${context.after}`,
        ),
    });
  }

  const verifiedKey = async (request: FastifyRequest): Promise<ApiKeyScope | null> => {
    if (request.apiKey !== undefined) return request.apiKey;
    const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
    request.apiKey = match === null ? null : await keys.verify(match[1] ?? '');
    return request.apiKey;
  };
  const authenticate = async (request: FastifyRequest): Promise<ApiKeyScope> => {
    const scope = await verifiedKey(request);
    if (scope === null) {
      throw new HttpError(401, 'a valid API key is required: Authorization: Bearer rk_…');
    }
    return scope;
  };
  /** 403 for an organization outside the key's scope, whether it exists or not. */
  const requireScope = (scope: ApiKeyScope, org: string) => {
    if (!keyCovers(scope, org)) {
      throw new HttpError(403, `the API key "${scope.name}" may not read organization "${org}"`);
    }
  };

  const probes: Probes = {
    notAliveReason: () => health?.deadReason() ?? null,
    async notReadyReason() {
      if (draining) return 'shutting down';
      const busy = health?.notReadyReason() ?? null;
      if (busy !== null) return busy;
      try {
        await ping(pool);
        return null;
      } catch {
        return 'the database is unreachable';
      }
    },
  };

  // Every request: counted in flight until its connection is done with it, a request id echoed,
  // parameters free of control characters.
  app.addHook('onRequest', async (request, reply) => {
    inFlight += 1;
    reply.raw.once('close', () => {
      inFlight -= 1;
    });
    reply.header('x-request-id', request.id);
  });
  app.addHook('preValidation', async (request) => {
    for (const [where, values] of [
      ['path', request.params],
      ['query', request.query],
    ] as const) {
      for (const [name, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
        if (typeof value === 'string' && CONTROL_CHARACTERS.test(value)) {
          throw new HttpError(
            400,
            where === 'path'
              ? 'the path holds a control character'
              : `the query parameter "${name}" holds a control character`,
          );
        }
      }
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    return payload;
  });
  /** Counts, times and logs a request once it is answered. */
  const record = (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url ?? request.intendedRoute ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, seconds);
    options.log?.info('request', {
      requestId: request.id,
      method: request.method,
      route,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    });
  };
  app.addHook('onResponse', async (request, reply) => record(request, reply));

  // The accept form posts an empty body (or a browser's url-encoded one): read and ignored,
  // within the body limit.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, _body, done) => done(null, {}),
  );

  const answerFailure = (reply: FastifyReply, audience: Audience, error: unknown) => {
    const failure = describeFailure(error, retryAfter);
    if (failure.status >= 500 && failure.status !== 503) {
      options.log?.error('request failed', {
        requestId: reply.request.id,
        error: error instanceof Error ? error.message : String(error),
      });
    }
    if (reply.sent || reply.raw.headersSent) {
      reply.raw.destroy();
      return reply;
    }
    reply.code(failure.status).headers(failure.headers);
    if (audience === 'api') {
      return reply
        .type('application/json; charset=utf-8')
        .serializer((body) => `${JSON.stringify(body)}\n`)
        .send({ error: failure.message });
    }
    if (audience === 'page' && failure.status === 503) {
      return reply
        .type('text/html; charset=utf-8')
        .send(unavailablePage(unknownReader(reply.request), platformBrand));
    }
    return reply.type('text/plain; charset=utf-8').send(`${failure.message}\n`);
  };
  const audienceOf = (request: FastifyRequest): Audience =>
    request.routeOptions.config.audience ??
    ((request.intendedRoute ?? request.url).startsWith('/api/') ? 'api' : 'plain');

  app.setErrorHandler((error, request, reply) => answerFailure(reply, audienceOf(request), error));
  app.setNotFoundHandler((request, reply) =>
    answerFailure(reply, audienceOf(request), new HttpError(404, 'not found')),
  );

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).type('text/html; charset=utf-8').send(body);

  /** A route, and 405 with Allow for the methods it does not take. */
  const route = (
    methods: readonly ('GET' | 'POST')[],
    url: string,
    config: RouteConfig,
    schema: object,
    handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  ) => {
    const allowed = methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
    app.route({ method: [...methods], url, config, schema, handler });
    app.route({
      method: METHODS.filter((m) => !allowed.includes(m)),
      url,
      config: { ...config, limit: 'none' },
      schema: { hide: true },
      handler: async () => {
        throw new HttpError(405, 'method not allowed', { allow: allowed.join(', ') });
      },
    });
  };
  const page: RouteConfig = { audience: 'page', limit: 'address' };
  const apiRoute: RouteConfig = { audience: 'api', limit: 'key' };
  const tokenParams = {
    hide: true,
    params: {
      type: 'object',
      required: ['token'],
      properties: { token: { type: 'string', minLength: 1, maxLength: 200 } },
    },
  };
  type Params<T extends string> = { [name in T]: string };
  type Query = Record<string, string | number | undefined>;

  /** A page of an invitation in its language and brand; an image source for its logo. */
  const showPage = (reply: FastifyReply, shown: Page, brand: Branding) => {
    const origin = logoOrigin(brand.logoUrl);
    if (origin !== undefined) {
      reply.header(
        'content-security-policy',
        `${SECURITY_HEADERS['content-security-policy']}; img-src ${origin}`,
      );
    }
    return html(reply, shown.status, shown.html);
  };
  const lookOf = (view: InvitationView) =>
    view.state === 'unknown'
      ? undefined
      : {
          t: messages.for(view.look.locales, view.look.timeZone),
          brand: effectiveBranding(view.look.branding, platformBrand),
        };
  const acceptPath = (token: string) => `/invitations/${encodeURIComponent(token)}/accept`;
  /** A view's page: the invitation, or why it cannot be used. */
  const viewPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    view: InvitationView,
    token: string,
  ) => {
    const look = lookOf(view);
    if (look === undefined) {
      return showPage(
        reply,
        unusablePage('unknown', unknownReader(request), platformBrand),
        platformBrand,
      );
    }
    return showPage(reply, invitationPage(view, acceptPath(token), look.t, look.brand), look.brand);
  };

  route(['GET'], '/invitations/:token', page, tokenParams, async (request, reply) => {
    const { token } = request.params as Params<'token'>;
    return viewPage(request, reply, await viewInvitation(pool, token), token);
  });
  route(['POST'], '/invitations/:token/accept', page, tokenParams, async (request, reply) => {
    const { token } = request.params as Params<'token'>;
    const result = await acceptInvitation(pool, token);
    if (!result.accepted) return viewPage(request, reply, result.view, token);
    metrics.accepted.inc();
    const org = encodeURIComponent(result.org);
    const target =
      options.appUrl === undefined
        ? `/invitations/${encodeURIComponent(token)}/welcome`
        : `${options.appUrl}${options.appUrl.includes('?') ? '&' : '?'}org=${org}`;
    return reply
      .code(303)
      .header('location', target)
      .type('text/plain; charset=utf-8')
      .send('Accepted.\n');
  });
  // Only the holder of an accepted token sees whom they joined: no organization is named to
  // anyone else.
  route(['GET'], '/invitations/:token/welcome', page, tokenParams, async (request, reply) => {
    const { token } = request.params as Params<'token'>;
    const view = await viewInvitation(pool, token);
    if (view.state !== 'accepted') return viewPage(request, reply, view, token);
    const { t, brand } = lookOf(view) ?? {};
    if (t === undefined || brand === undefined) return viewPage(request, reply, view, token);
    return showPage(
      reply,
      { status: 200, html: welcomePage(view.orgDisplayName ?? view.org, t, brand) },
      brand,
    );
  });
  for (const path of PROBE_PATHS) {
    route(
      ['GET'],
      path,
      { audience: 'plain', limit: 'none' },
      { hide: true },
      async (_r, reply) => {
        const answer = await probeAnswer(path, probes, metrics.registry);
        return reply.code(answer.status).type(answer.contentType).send(answer.body);
      },
    );
  }
  route(
    ['GET'],
    '/api/openapi.json',
    { audience: 'api', limit: 'address' },
    { hide: true },
    async (_request, reply) =>
      reply.type('application/json; charset=utf-8').send(`${JSON.stringify(app.swagger())}\n`),
  );

  route(['GET'], '/api/v1/check', apiRoute, CHECK_SCHEMA, async (request) => {
    const scope = await authenticate(request);
    const q = request.query as Query;
    const query = {
      user: String(q.user),
      permission: String(q.permission),
      org: String(q.org),
      resource: q.resource === undefined ? null : String(q.resource),
    };
    requireScope(scope, query.org);
    if (q.actingAs !== undefined) {
      // Delegated: audited before it is answered, never from memory.
      const source = { via: 'api', apiKey: scope.name };
      return checkDelegatedAccess(pool, { ...query, actingAs: String(q.actingAs) }, source);
    }
    const cache = options.accessCache;
    const read = reader();
    if (cache === undefined) return checkAccess(read.pool, query);
    const key = [query.org, emailIdentity(query.user), query.permission, query.resource ?? ''].join(
      '\u0000',
    );
    const cached = cache.get(key);
    if (cached !== undefined) {
      metrics.accessCache.inc({ result: 'hit' });
      return cached;
    }
    metrics.accessCache.inc({ result: 'miss' });
    const token = cache.begin();
    const { decision, validUntil } = await checkAccessUntil(read.pool, query);
    // A notification may come before the replica has replayed the change it announces: an
    // answer read there is kept no longer than the staleness bound.
    const bound =
      read.replica && options.reads !== undefined
        ? new Date(Date.now() + options.reads.maxLagMs)
        : null;
    const until =
      bound === null || (validUntil !== null && validUntil < bound) ? validUntil : bound;
    cache.set(key, decision, until, token);
    return decision;
  });
  route(
    ['GET'],
    '/api/v1/users/:email/organizations',
    apiRoute,
    ORGANIZATIONS_OF_USER_SCHEMA,
    async (request) => {
      const scope = await authenticate(request);
      const { email } = request.params as Params<'email'>;
      // A scoped key sees the user's organizations within its scope only.
      const organizations = (await organizationsOfUser(reader().pool, email)).filter((o) =>
        keyCovers(scope, o.org),
      );
      return { organizations };
    },
  );
  route(
    ['GET'],
    '/api/v1/organizations/:org/contacts',
    apiRoute,
    CONTACTS_SCHEMA,
    async (request) => {
      const scope = await authenticate(request);
      const { org } = request.params as Params<'org'>;
      requireScope(scope, org);
      const category = (request.query as Query).category;
      const contacts = await contactsOf(
        reader().pool,
        org,
        category === undefined ? null : String(category),
      );
      if (contacts === null) throw new HttpError(404, 'no such organization');
      return { contacts };
    },
  );
  route(
    ['GET'],
    '/api/v1/organizations/:org/members',
    apiRoute,
    MEMBERS_SCHEMA,
    async (request) => {
      const scope = await authenticate(request);
      const { org } = request.params as Params<'org'>;
      requireScope(scope, org);
      const page = await listMembers(reader().pool, org, pageOf(request.query as Query));
      if (page === null) throw new HttpError(404, 'no such organization');
      return { members: page.items, next: page.next };
    },
  );
  // The access review as a page, for a holder of an API key for the organization.
  route(
    ['GET'],
    '/review/:org',
    { audience: 'api', limit: 'key' },
    { hide: true },
    async (request, reply) => {
      const scope = await authenticate(request);
      const { org } = request.params as Params<'org'>;
      requireScope(scope, org);
      const review = await accessReview(reader().pool, org);
      if (review === null) throw new HttpError(404, 'no such organization');
      return reply
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .type('text/html; charset=utf-8')
        .send(reviewHtml(org, review.lines, new Date(), review.cut));
    },
  );
  route(['GET'], '/api/v1/audit', apiRoute, AUDIT_SCHEMA, async (request) => {
    const scope = await authenticate(request);
    const q = request.query as Query;
    const org = q.org === undefined ? undefined : String(q.org);
    if (org !== undefined) requireScope(scope, org);
    const since = timeOf(q, 'since');
    const until = timeOf(q, 'until');
    // A scoped key reads the entries of its organizations only (platform-wide entries, such
    // as plans and roles, need a key for every organization).
    const page = await listAudit(
      reader().pool,
      {
        ...(org !== undefined && { org }),
        ...(scope.organizations !== 'all' && { orgs: [...scope.organizations] }),
        ...(q.user !== undefined && { user: String(q.user) }),
        ...(since !== undefined && { since }),
        ...(until !== undefined && { until }),
      },
      pageOf(q),
    );
    return { entries: page.items, next: page.next };
  });

  await app.ready();
  return {
    server: app.server,
    inFlight: () => inFlight,
    drain: () => {
      draining = true;
    },
    // The server is made by serverFactory and listened on by the caller: Fastify then leaves
    // closing it to us (it only runs its onClose hooks and answers 503 from then on).
    close: async () => {
      const closed = new Promise<void>((resolve) => app.server.close(() => resolve()));
      app.server.closeIdleConnections();
      await app.close();
      await closed;
    },
  };
}

/** `limit` and `after` of a paginated route (checked by its schema). */
function pageOf(query: Record<string, unknown>): { limit?: number; after?: string } {
  return {
    ...(typeof query.limit === 'number' && { limit: query.limit }),
    ...(typeof query.after === 'string' && { after: query.after }),
  };
}

/** A date or an RFC 3339 time parameter, or undefined. */
function timeOf(query: Record<string, unknown>, name: string): Date | undefined {
  const text = query[name];
  if (text === undefined) return undefined;
  const at = startInstant(String(text));
  if (at === undefined) throw new HttpError(400, `${name} must be a date or an RFC 3339 time`);
  return new Date(at);
}

/** Text no parameter may hold: NUL and the other C0 controls, which PostgreSQL text refuses or which no address contains. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** The status, message and headers a failure answers with. */
function describeFailure(
  error: unknown,
  retryAfter: string,
): { status: number; message: string; headers: Readonly<Record<string, string>> } {
  if (error instanceof HttpError) {
    return { status: error.status, message: error.message, headers: error.headers };
  }
  if (error instanceof UsageError) return { status: 400, message: error.message, headers: {} };
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      message: 'the access database is unavailable or busy; try again shortly',
      headers: { 'retry-after': retryAfter },
    };
  }
  const fastifyError = error as Partial<FastifyError>;
  if (fastifyError.validation !== undefined) {
    return { status: 400, message: describeValidation(fastifyError as FastifyError), headers: {} };
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own: 413 body too large, 415 media type, 400 malformed body...
    return { status, message: fastifyError.message ?? 'bad request', headers: {} };
  }
  return { status: 500, message: 'internal error', headers: {} };
}

/** A parameter's schema violation, in the words the API has always used. */
function describeValidation(error: FastifyError): string {
  const [first] = error.validation ?? [];
  const where = error.validationContext === 'params' ? 'path parameter' : 'query parameter';
  if (first === undefined) return error.message;
  const missing = (first.params as { missingProperty?: string }).missingProperty;
  if (first.keyword === 'required' && missing !== undefined) {
    return `the ${where} "${missing}" is required`;
  }
  const name = first.instancePath.replace(/^\//, '');
  if (first.keyword === 'minLength') return `the ${where} "${name}" is required`;
  return `the ${where} "${name}" ${first.message ?? 'is not valid'}`;
}
