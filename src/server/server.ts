/**
 * `roster serve`: the invitation pages, the access API, health and metrics, on node:http. Tokens
 * never reach a log: invitation paths are logged as `/invitations/:token`.
 *
 * Every request is matched to a route first, so errors are counted under the route they belong
 * to. Bad parameters answer 400; a database that is down, out of connections or too slow answers
 * 503 with Retry-After (as JSON on the API, as a page on the invitation pages); anything else is
 * a 500 whose cause goes to the log only.
 */
import type { Logger } from '../telemetry/log.js';
import { answerProbe, PROBE_PATHS, type Probes } from '../telemetry/probes.js';
import { ping } from '../store/notifications.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type pg from 'pg';
import { CONTACT_CATEGORIES } from '../core/catalog.js';
import { emailIdentity } from '../core/email.js';
import {
  checkAccess,
  checkAccessUntil,
  checkDelegatedAccess,
  contactsOf,
  organizationsOfUser,
} from '../store/access.js';
import { accessReview, listAudit, listMembers, MAX_VIEW_PAGE } from '../store/views.js';
import { reviewHtml } from '../core/review.js';
import type { AccessCache } from './access-cache.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { UsageError } from '../core/errors.js';
import { startInstant } from '../core/expiry.js';
import { acceptInvitation, viewInvitation } from '../store/accept-invitation.js';
import { ApiKeyVerifier, keyCovers, type ApiKeyScope } from '../store/api-keys.js';
import type { ServerMetrics } from '../telemetry/metrics.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { invitationPage, unavailablePage, unusablePage, welcomePage } from './pages.js';
import type { PoolHealth } from './pool-health.js';

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
}

/** The server and what a graceful shutdown needs to know of it. */
export interface RosterServer {
  readonly server: Server;
  /** Requests being answered now. */
  inFlight(): number;
  /** From now on /readyz answers 503, so load balancers stop sending traffic. */
  drain(): void;
}

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

/** What a route handler gets. */
interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** The path's captured segments, percent-decoded and checked. */
  readonly params: readonly string[];
}

/** How errors are answered on a route: JSON (the API) or an HTML page (the invitation pages). */
type Audience = 'api' | 'page' | 'plain';

interface Route {
  readonly name: string;
  readonly pattern: RegExp;
  readonly methods: readonly string[];
  readonly audience: Audience;
  readonly handle: (context: RequestContext) => Promise<void>;
}

/** Creates the server (not yet listening). */
export function createRosterServer(options: ServerOptions): Server {
  return createRosterService(options).server;
}

/** Creates the server with the hooks `roster serve` uses to shut down gracefully. */
export function createRosterService(options: ServerOptions): RosterServer {
  const keys = new ApiKeyVerifier(options.pool);
  const { metrics, pool, health } = options;
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  let draining = false;
  let inFlight = 0;

  const send = (
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    headers: Readonly<Record<string, string>> = {},
  ) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers });
    res.end(body);
  };
  const sendJson = (res: ServerResponse, status: number, body: unknown) =>
    send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
  const sendHtml = (res: ServerResponse, status: number, html: string) =>
    send(res, status, 'text/html; charset=utf-8', html);
  const authenticate = async (req: IncomingMessage): Promise<ApiKeyScope> => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    const scope = match === null ? null : await keys.verify(match[1] ?? '');
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
  const required = (url: URL, name: string) => {
    const value = url.searchParams.get(name);
    if (value === null || value === '') {
      throw new HttpError(400, `the query parameter "${name}" is required`);
    }
    return value;
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

  const routes: Route[] = [
    {
      name: '/invitations/:token',
      pattern: /^\/invitations\/([^/]+)$/,
      methods: ['GET', 'HEAD'],
      audience: 'page',
      async handle({ res, params: [token = ''] }) {
        const view = await viewInvitation(pool, token);
        const page = invitationPage(view, `/invitations/${encodeURIComponent(token)}/accept`);
        sendHtml(res, page.status, page.html);
      },
    },
    {
      name: '/invitations/:token/accept',
      pattern: /^\/invitations\/([^/]+)\/accept$/,
      methods: ['POST'],
      audience: 'page',
      async handle({ res, params: [token = ''] }) {
        const result = await acceptInvitation(pool, token);
        if (!result.accepted) {
          const page = unusablePage(result.state);
          sendHtml(res, page.status, page.html);
          return;
        }
        metrics.accepted.inc();
        const org = encodeURIComponent(result.org);
        const target =
          options.appUrl === undefined
            ? `/invitations/${encodeURIComponent(token)}/welcome`
            : `${options.appUrl}${options.appUrl.includes('?') ? '&' : '?'}org=${org}`;
        send(res, 303, 'text/plain; charset=utf-8', 'Accepted.\n', { location: target });
      },
    },
    {
      // Only the holder of an accepted token sees whom they joined: no organization is named to
      // anyone else.
      name: '/invitations/:token/welcome',
      pattern: /^\/invitations\/([^/]+)\/welcome$/,
      methods: ['GET', 'HEAD'],
      audience: 'page',
      async handle({ res, params: [token = ''] }) {
        const view = await viewInvitation(pool, token);
        if (view.state !== 'accepted') {
          const page =
            view.state === 'pending'
              ? invitationPage(view, `/invitations/${encodeURIComponent(token)}/accept`)
              : unusablePage(view.state);
          sendHtml(res, page.status, page.html);
          return;
        }
        sendHtml(res, 200, welcomePage(view.orgDisplayName ?? view.org));
      },
    },
    ...PROBE_PATHS.map((path): Route => ({
      name: path,
      pattern: new RegExp(`^${path}$`),
      methods: ['GET', 'HEAD'],
      audience: 'plain',
      handle: ({ res }) => answerProbe(path, res, probes, metrics.registry),
    })),
    {
      name: '/api/openapi.json',
      pattern: /^\/api\/openapi\.json$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ res }) {
        sendJson(res, 200, OPENAPI_DOCUMENT);
      },
    },
    {
      name: '/api/v1/check',
      pattern: /^\/api\/v1\/check$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ req, res, url }) {
        const scope = await authenticate(req);
        const org = required(url, 'org');
        const query = {
          user: required(url, 'user'),
          permission: required(url, 'permission'),
          org,
          resource: url.searchParams.get('resource'),
        };
        requireScope(scope, org);
        const actingAs = url.searchParams.get('actingAs');
        if (actingAs !== null) {
          // Delegated: audited before it is answered, never from memory.
          const source = { via: 'api', apiKey: scope.name };
          return sendJson(
            res,
            200,
            await checkDelegatedAccess(pool, { ...query, actingAs }, source),
          );
        }
        const cache = options.accessCache;
        if (cache === undefined) return sendJson(res, 200, await checkAccess(pool, query));
        const key = [org, emailIdentity(query.user), query.permission, query.resource ?? ''].join(
          '\u0000',
        );
        const cached = cache.get(key);
        if (cached !== undefined) {
          metrics.accessCache.inc({ result: 'hit' });
          return sendJson(res, 200, cached);
        }
        metrics.accessCache.inc({ result: 'miss' });
        const token = cache.begin();
        const { decision, validUntil } = await checkAccessUntil(pool, query);
        cache.set(key, decision, validUntil, token);
        sendJson(res, 200, decision);
      },
    },
    {
      name: '/api/v1/users/:email/organizations',
      pattern: /^\/api\/v1\/users\/([^/]+)\/organizations$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ req, res, params: [email = ''] }) {
        const scope = await authenticate(req);
        // A scoped key sees the user's organizations within its scope only.
        const organizations = (await organizationsOfUser(pool, email)).filter((o) =>
          keyCovers(scope, o.org),
        );
        sendJson(res, 200, { organizations });
      },
    },
    {
      name: '/api/v1/organizations/:org/contacts',
      pattern: /^\/api\/v1\/organizations\/([^/]+)\/contacts$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ req, res, url, params: [org = ''] }) {
        const scope = await authenticate(req);
        requireScope(scope, org);
        const category = url.searchParams.get('category');
        if (category !== null && !(CONTACT_CATEGORIES as readonly string[]).includes(category)) {
          throw new HttpError(400, `category must be one of ${CONTACT_CATEGORIES.join(', ')}`);
        }
        const contacts = await contactsOf(pool, org, category);
        if (contacts === null) throw new HttpError(404, 'no such organization');
        sendJson(res, 200, { contacts });
      },
    },
    {
      name: '/api/v1/organizations/:org/members',
      pattern: /^\/api\/v1\/organizations\/([^/]+)\/members$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ req, res, url, params: [org = ''] }) {
        const scope = await authenticate(req);
        requireScope(scope, org);
        const page = await listMembers(pool, org, pageOf(url));
        if (page === null) throw new HttpError(404, 'no such organization');
        sendJson(res, 200, { members: page.items, next: page.next });
      },
    },
    {
      // The access review as a page, for a holder of an API key for the organization.
      name: '/review/:org',
      pattern: /^\/review\/([^/]+)$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ req, res, params: [org = ''] }) {
        const scope = await authenticate(req);
        requireScope(scope, org);
        const review = await accessReview(pool, org);
        if (review === null) throw new HttpError(404, 'no such organization');
        const html = reviewHtml(org, review.lines, new Date(), review.cut);
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        });
        res.end(req.method === 'HEAD' ? undefined : html);
      },
    },
    {
      name: '/api/v1/audit',
      pattern: /^\/api\/v1\/audit$/,
      methods: ['GET', 'HEAD'],
      audience: 'api',
      async handle({ req, res, url }) {
        const scope = await authenticate(req);
        const org = url.searchParams.get('org');
        if (org !== null) requireScope(scope, org);
        const user = url.searchParams.get('user');
        const since = timeOf(url, 'since');
        const until = timeOf(url, 'until');
        // A scoped key reads the entries of its organizations only (platform-wide entries, such
        // as plans and roles, need a key for every organization).
        const page = await listAudit(
          pool,
          {
            ...(org !== null && { org }),
            ...(scope.organizations !== 'all' && { orgs: [...scope.organizations] }),
            ...(user !== null && { user }),
            ...(since !== undefined && { since }),
            ...(until !== undefined && { until }),
          },
          pageOf(url),
        );
        sendJson(res, 200, { entries: page.items, next: page.next });
      },
    },
  ];

  const answerFailure = (res: ServerResponse, audience: Audience, error: unknown) => {
    const failure = describeFailure(error, retryAfter);
    if (failure.status === 500) {
      options.log?.error('request failed', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (audience === 'api') {
      send(
        res,
        failure.status,
        'application/json; charset=utf-8',
        `${JSON.stringify({ error: failure.message })}\n`,
        failure.headers,
      );
    } else if (audience === 'page' && failure.status === 503) {
      send(res, 503, 'text/html; charset=utf-8', unavailablePage(), failure.headers);
    } else {
      send(
        res,
        failure.status,
        'text/plain; charset=utf-8',
        `${failure.message}\n`,
        failure.headers,
      );
    }
  };

  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    inFlight += 1;
    let routeName = 'unmatched';
    let audience: Audience = (req.url ?? '').startsWith('/api/') ? 'api' : 'plain';
    const run = async () => {
      const url = parseRequestUrl(req.url);
      const method = req.method ?? 'GET';
      const matches = routes
        .map((route) => ({ route, match: route.pattern.exec(url.pathname) }))
        .filter((m) => m.match !== null);
      const found = matches.find((m) => m.route.methods.includes(method)) ?? matches[0];
      if (found === undefined || found.match === null) throw new HttpError(404, 'not found');
      routeName = found.route.name;
      audience = found.route.audience;
      if (!found.route.methods.includes(method)) {
        throw new HttpError(405, 'method not allowed', {
          allow: found.route.methods.join(', '),
        });
      }
      checkQuery(url);
      const params = found.match.slice(1).map(decodeSegment);
      await found.route.handle({ req, res, url, params });
    };
    run()
      .catch((error: unknown) => answerFailure(res, audience, error))
      .finally(() => {
        inFlight -= 1;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.requests.inc({ route: routeName, status: String(res.statusCode) });
        metrics.duration.observe({ route: routeName }, seconds);
        options.log?.info('request', {
          method: req.method,
          route: routeName,
          status: res.statusCode,
          ms: Math.round(seconds * 1000),
        });
      });
  });
  return {
    server,
    inFlight: () => inFlight,
    drain: () => {
      draining = true;
    },
  };
}

/** `limit` and `after` of a paginated route. */
function pageOf(url: URL): { limit?: number; after?: string } {
  const limit = url.searchParams.get('limit');
  const after = url.searchParams.get('after');
  if (limit !== null && (!/^\d+$/.test(limit) || +limit < 1 || +limit > MAX_VIEW_PAGE)) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_VIEW_PAGE}`);
  }
  return {
    ...(limit !== null && { limit: Number(limit) }),
    ...(after !== null && { after }),
  };
}

/** A date or an RFC 3339 time parameter, or undefined. */
function timeOf(url: URL, name: string): Date | undefined {
  const text = url.searchParams.get(name);
  if (text === null) return undefined;
  const at = startInstant(text);
  if (at === undefined) throw new HttpError(400, `${name} must be a date or an RFC 3339 time`);
  return new Date(at);
}

/** The request's URL; a target that is not a path answers 400. */
function parseRequestUrl(target: string | undefined): URL {
  if (target === undefined || !target.startsWith('/')) {
    throw new HttpError(400, 'the request target must be a path');
  }
  try {
    return new URL(target, 'http://roster.invalid');
  } catch {
    throw new HttpError(400, 'the request target is not a valid URL path');
  }
}

/** Text no parameter may hold: NUL and the other C0 controls, which PostgreSQL text refuses or which no address contains. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** A path segment, percent-decoded; a malformed escape or a control character answers 400. */
function decodeSegment(segment: string | undefined): string {
  let value: string;
  try {
    value = decodeURIComponent(segment ?? '');
  } catch {
    throw new HttpError(400, 'the path has a malformed percent-escape');
  }
  if (CONTROL_CHARACTERS.test(value)) {
    throw new HttpError(400, 'the path holds a control character');
  }
  return value;
}

/** Query parameters are decoded leniently by URLSearchParams; control characters still answer 400. */
function checkQuery(url: URL): void {
  for (const [name, value] of url.searchParams) {
    if (CONTROL_CHARACTERS.test(name) || CONTROL_CHARACTERS.test(value)) {
      throw new HttpError(400, `the query parameter "${name}" holds a control character`);
    }
  }
}

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
  return { status: 500, message: 'internal error', headers: {} };
}
