/**
 * `roster serve`: the invitation pages, the access API, health and metrics, on node:http. Tokens
 * never reach a log: invitation paths are logged as `/invitations/:token`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type pg from 'pg';
import { CONTACT_CATEGORIES } from '../core/catalog.js';
import { checkAccess, contactsOf, organizationsOfUser } from '../access/queries.js';
import { acceptInvitation, viewInvitation } from '../invitations/accept.js';
import { ApiKeyVerifier } from './api-keys.js';
import type { ServerMetrics } from './metrics.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { acceptedPage, invitationPage, unusablePage } from './pages.js';

/** What the server needs. */
export interface ServerOptions {
  readonly pool: pg.Pool;
  readonly metrics: ServerMetrics;
  /** Where to send a person after accepting; `?org=NAME` is added. Default: a built-in page. */
  readonly appUrl?: string;
  /** One line per request, already free of secrets. */
  readonly log?: (line: string) => void;
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Creates the server (not yet listening). */
export function createRosterServer(options: ServerOptions): Server {
  const keys = new ApiKeyVerifier(options.pool);
  const { metrics } = options;

  const send = (
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers });
    res.end(body);
  };
  const sendJson = (res: ServerResponse, status: number, body: unknown) =>
    send(res, status, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
  const sendHtml = (res: ServerResponse, status: number, html: string) =>
    send(res, status, 'text/html; charset=utf-8', html);

  const authenticate = async (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (match === null || (await keys.verify(match[1] ?? '')) === null) {
      throw new HttpError(401, 'a valid API key is required: Authorization: Bearer rk_…');
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<string> => {
    const url = new URL(req.url ?? '/', 'http://roster.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';

    const invitation = /^\/invitations\/([^/]+)(\/accept)?$/.exec(path);
    if (invitation !== null) {
      const token = decodeURIComponent(invitation[1] ?? '');
      if (invitation[2] === undefined && (method === 'GET' || method === 'HEAD')) {
        const view = await viewInvitation(options.pool, token);
        const page = invitationPage(view, `/invitations/${encodeURIComponent(token)}/accept`);
        sendHtml(res, page.status, page.html);
        return '/invitations/:token';
      }
      if (invitation[2] !== undefined && method === 'POST') {
        const result = await acceptInvitation(options.pool, token);
        if (!result.accepted) {
          const page = unusablePage(result.state);
          sendHtml(res, page.status, page.html);
        } else {
          metrics.accepted.inc();
          const target =
            options.appUrl === undefined
              ? `/accepted?org=${encodeURIComponent(result.org)}`
              : `${options.appUrl}${options.appUrl.includes('?') ? '&' : '?'}org=${encodeURIComponent(result.org)}`;
          send(res, 303, 'text/plain; charset=utf-8', 'Accepted.\n', { location: target });
        }
        return '/invitations/:token/accept';
      }
      throw new HttpError(405, 'method not allowed');
    }

    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    switch (path) {
      case '/accepted':
        sendHtml(res, 200, acceptedPage(url.searchParams.get('org') ?? 'the organization'));
        return path;
      case '/healthz':
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return path;
      case '/readyz':
        try {
          await options.pool.query('SELECT 1');
          send(res, 200, 'text/plain; charset=utf-8', 'ready\n');
        } catch {
          send(res, 503, 'text/plain; charset=utf-8', 'the database is unreachable\n');
        }
        return path;
      case '/metrics':
        send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metrics.render());
        return path;
      case '/api/openapi.json':
        sendJson(res, 200, OPENAPI_DOCUMENT);
        return path;
      case '/api/v1/check': {
        await authenticate(req);
        const need = (name: string) => {
          const value = url.searchParams.get(name);
          if (value === null || value === '') {
            throw new HttpError(400, `the query parameter "${name}" is required`);
          }
          return value;
        };
        const decision = await checkAccess(options.pool, {
          user: need('user'),
          permission: need('permission'),
          org: need('org'),
          resource: url.searchParams.get('resource'),
        });
        sendJson(res, 200, decision);
        return path;
      }
    }
    const userOrgs = /^\/api\/v1\/users\/([^/]+)\/organizations$/.exec(path);
    if (userOrgs !== null) {
      await authenticate(req);
      sendJson(res, 200, {
        organizations: await organizationsOfUser(
          options.pool,
          decodeURIComponent(userOrgs[1] ?? ''),
        ),
      });
      return '/api/v1/users/:email/organizations';
    }
    const orgContacts = /^\/api\/v1\/organizations\/([^/]+)\/contacts$/.exec(path);
    if (orgContacts !== null) {
      await authenticate(req);
      const category = url.searchParams.get('category');
      if (category !== null && !(CONTACT_CATEGORIES as readonly string[]).includes(category)) {
        throw new HttpError(400, `category must be one of ${CONTACT_CATEGORIES.join(', ')}`);
      }
      const contacts = await contactsOf(
        options.pool,
        decodeURIComponent(orgContacts[1] ?? ''),
        category,
      );
      if (contacts === null) throw new HttpError(404, 'no such organization');
      sendJson(res, 200, { contacts });
      return '/api/v1/organizations/:org/contacts';
    }
    throw new HttpError(404, 'not found');
  };

  return createServer((req, res) => {
    const started = process.hrtime.bigint();
    let route = 'unmatched';
    handle(req, res)
      .then((r) => {
        route = r;
      })
      .catch((error: unknown) => {
        const status = error instanceof HttpError ? error.status : 500;
        const message = error instanceof HttpError ? error.message : 'internal error';
        if (!res.headersSent) {
          if ((req.url ?? '').startsWith('/api/')) sendJson(res, status, { error: message });
          else send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
        }
        if (!(error instanceof HttpError)) {
          options.log?.(`error: ${error instanceof Error ? error.message : String(error)}`);
        }
      })
      .finally(() => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics.requests.inc({ route, status: String(res.statusCode) });
        metrics.duration.observe(seconds, { route });
        options.log?.(
          JSON.stringify({
            time: new Date().toISOString(),
            method: req.method,
            route,
            status: res.statusCode,
            ms: Math.round(seconds * 1000),
          }),
        );
      });
  });
}
