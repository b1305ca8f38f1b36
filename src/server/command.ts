/** `roster serve`: the invitation pages, the access API, health, metrics, and continuous delivery. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { envNumber } from '../core/env-number.js';
import { UsageError } from '../core/errors.js';
import { openAccessDatabase } from '../store/connect.js';
import { ReadReplica } from '../store/read-replica.js';
import { deliverOutbox } from '../mail/deliver.js';
import { jsonLogger, type Logger } from '../telemetry/log.js';
import { AccessCache, keepCacheFresh } from './access-cache.js';
import { ServerMetrics } from '../telemetry/metrics.js';
import { PoolHealth } from './pool-health.js';
import { createRosterService, DEFAULT_RATE_LIMITS, type RosterServer } from './server.js';
import type { CliIo } from '../command/io.js';
import { parseDuration } from '../command/options.js';
import { deliveryOptionsFrom } from '../command/delivery-config.js';
import { whoAmI } from '../command/session.js';

/** Help text of the command. */
export const SERVE_HELP = `Usage: roster serve [--port N] [--host ADDRESS] [--delivery-interval SECONDS]

Serves the invitation pages (/invitations/TOKEN), the access API (/api/v1/..., described by
/api/openapi.json, protected by keys from "roster api-keys create"), /healthz, /readyz and
/metrics; and delivers queued invitations continuously.

Options:
      --port N                   port to listen on (default 8080, or PORT)
      --host ADDRESS             address to bind (default 127.0.0.1; 0.0.0.0 in a container)
      --delivery-interval S      seconds between delivery rounds (default 10; 0 turns delivery off)
      --db-connections N         database connections at most (default 10)
      --shutdown-timeout DURATION
                                 on SIGTERM, how long requests in flight may take to finish
                                 before their connections are closed (default 20s)
      --rate-limit N             API requests a minute per API key before 429 with Retry-After
                                 (default 6000; without a valid key, per client address; 0: off)
      --page-rate-limit N        invitation page requests a minute per client address
                                 (default 300; 0: off)
      --request-timeout DURATION time a client has to send a whole request (default 30s)

Every response carries an x-request-id (the client's, when it sends one), which the request's
log line names. Request bodies over 16 KiB answer 413.

A request that finds no free database connection within 5 s, or a database that is down,
answers 503 with Retry-After. /readyz answers 503 while every connection is busy with none
returned for 2 s, and while shutting down; /healthz answers 503 once none has been returned
for 60 s (a stuck process a liveness probe should restart).

Environment: DATABASE_URL, SMTP_URL, ROSTER_PUBLIC_URL (the address people reach this server
at, for the links in e-mails), ROSTER_APP_URL (where to send people after they accept),
ROSTER_MAIL_FROM; the language, time zone and brand of invitations, under each organization's:
ROSTER_LOCALE, ROSTER_TIME_ZONE, ROSTER_MESSAGES (catalogues), ROSTER_PRODUCT_NAME,
ROSTER_SENDER_NAME, ROSTER_LOGO_URL, ROSTER_ACCENT_COLOR. Stops gracefully on SIGINT or SIGTERM.

DATABASE_READ_URL: a streaming replica the API reads from (checks, lists, the audit log) while
it is at most ROSTER_READ_MAX_LAG behind (default 5s, measured by a heartbeat written to the
primary); beyond that, or when it does not answer, reads go to the primary.

Access checks are answered from memory when asked again; every write to what they read
(by Roster, the app or SQL) clears that memory at commit. ROSTER_ACCESS_CACHE=off turns it off.
`;

/** Pool and probe limits; the environment may shorten them (the test suite does). */
function serveLimits(env: NodeJS.ProcessEnv, connections: number) {
  const ms = (name: string, fallback: number) => envNumber(env, name, (n) => n > 0) ?? fallback;
  return {
    pool: {
      max: connections,
      acquireTimeoutMs: ms('ROSTER_DB_ACQUIRE_TIMEOUT_MS', 5_000),
      statementTimeoutMs: ms('ROSTER_DB_STATEMENT_TIMEOUT_MS', 15_000),
    },
    health: {
      max: connections,
      readyStallMs: ms('ROSTER_READY_STALL_MS', 2_000),
      liveStallMs: ms('ROSTER_LIVE_STALL_MS', 60_000),
    },
  };
}

/** Runs the command until a signal; returns the exit code. */
export async function serveCommand(
  args: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      'delivery-interval': { type: 'string', default: '10' },
      'db-connections': { type: 'string', default: '10' },
      'shutdown-timeout': { type: 'string', default: '20s' },
      'rate-limit': { type: 'string', default: String(DEFAULT_RATE_LIMITS.perKey) },
      'page-rate-limit': { type: 'string', default: String(DEFAULT_RATE_LIMITS.perAddress) },
      'request-timeout': { type: 'string', default: '30s' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  const port = Number(values.port ?? io.env.PORT ?? '8080');
  const interval = Number(values['delivery-interval']);
  const connections = Number(values['db-connections']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a port number, not "${values.port}"`);
  }
  if (!(interval >= 0)) throw new UsageError('--delivery-interval must be a number of seconds');
  if (!Number.isInteger(connections) || connections < 2) {
    throw new UsageError(
      `--db-connections must be a whole number of at least 2, not "${values['db-connections']}"`,
    );
  }
  const graceMs = parseDuration(values['shutdown-timeout'], '--shutdown-timeout');
  const requestTimeoutMs = parseDuration(values['request-timeout'], '--request-timeout');
  const perMinute = (flag: 'rate-limit' | 'page-rate-limit') => {
    const value = Number(values[flag]);
    if (!Number.isInteger(value) || value < 0) {
      throw new UsageError(
        `--${flag} must be a whole number of requests a minute, not "${values[flag]}"`,
      );
    }
    // 0 turns it off: as many as a minute could hold.
    return value === 0 ? Number.MAX_SAFE_INTEGER : value;
  };
  const rateLimits = { perKey: perMinute('rate-limit'), perAddress: perMinute('page-rate-limit') };
  const limits = serveLimits(io.env, connections);

  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster serve (${whoAmI()})`,
    pool: limits.pool,
  });
  const metrics = new ServerMetrics();
  // Reads of the API from a replica, within a staleness bound (DATABASE_READ_URL).
  const readUrl = io.env.DATABASE_READ_URL;
  const replica =
    readUrl === undefined || readUrl === ''
      ? undefined
      : await openAccessDatabase({
          env: { DATABASE_URL: readUrl },
          cwd: io.cwd,
          applicationName: `roster serve reads (${whoAmI()})`,
          migrate: false,
          pool: limits.pool,
        });
  const reads =
    replica === undefined
      ? undefined
      : new ReadReplica(database.pool, replica.pool, {
          maxLagMs: parseDuration(io.env.ROSTER_READ_MAX_LAG || '5s', 'ROSTER_READ_MAX_LAG'),
          onLag: (lagMs) => metrics.replicaLag.set(Number.isFinite(lagMs) ? lagMs / 1000 : -1),
        });
  await reads?.start();
  const health = new PoolHealth(database.pool, limits.health);
  metrics.watchPool(() => health.sample());
  const delivery = await deliveryOptionsFrom(io);
  const log = jsonLogger(io.stderr);
  // Access decisions in memory, cleared on every change; ROSTER_ACCESS_CACHE=off reads the
  // database for every check.
  const accessCache = io.env.ROSTER_ACCESS_CACHE === 'off' ? undefined : new AccessCache();
  const stopCache =
    accessCache === undefined ? undefined : keepCacheFresh(database.pool, accessCache, log);
  const service = await createRosterService({
    pool: database.pool,
    metrics,
    health,
    ...(accessCache !== undefined && { accessCache }),
    ...(io.env.ROSTER_APP_URL ? { appUrl: io.env.ROSTER_APP_URL } : {}),
    log,
    rateLimits:
      rateLimits.perKey === Number.MAX_SAFE_INTEGER &&
      rateLimits.perAddress === Number.MAX_SAFE_INTEGER
        ? null
        : rateLimits,
    requestTimeoutMs,
    ...(reads !== undefined && { reads }),
    ...(delivery.messages !== undefined && { messages: delivery.messages }),
    ...(delivery.branding !== undefined && { branding: delivery.branding }),
  });
  const { server } = service;
  server.listen(port, values.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  io.stdout.write(
    `Roster is serving on http://${values.host}:${address.port} (mail: ${delivery.transport.description})\n`,
  );

  const stopDelivery = new AbortController();
  let delivering: Promise<void> = Promise.resolve();
  const deliverRound = () => {
    if (stopDelivery.signal.aborted) return;
    delivering = deliverOutbox(database.pool, { ...delivery, signal: stopDelivery.signal })
      .then((report) => {
        metrics.delivered.inc({}, report.sent);
        metrics.deliveryFailures.inc({}, report.failed);
        if (report.sent + report.failed + report.requeued + report.expired > 0) {
          log.info('delivery', { delivery: report });
        }
      })
      .catch((error: unknown) => {
        log.error('delivery failed', {
          error: error instanceof Error ? error.message : String(error),
        });
      });
  };
  const timer =
    interval > 0 ? setInterval(() => delivering.then(deliverRound), interval * 1000) : undefined;
  if (interval > 0) deliverRound();

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    signal?.addEventListener('abort', stop, { once: true });
  });
  log.info('shutting down');
  if (timer !== undefined) clearInterval(timer);
  await shutDown({ service, graceMs, log, delivering, stopDelivery });
  await stopCache?.();
  await reads?.stop();
  await replica?.close();
  delivery.transport.close();
  await within(2_000, database.close());
  return 0;
}

/**
 * Stops taking requests, lets those in flight and the delivery round finish for up to `graceMs`,
 * then closes whatever connections remain: the process exits within the grace period whatever is
 * in flight (a request that never got its connection, a mail server that never answers).
 */
async function shutDown(options: {
  service: RosterServer;
  graceMs: number;
  log: Logger;
  delivering: Promise<void>;
  stopDelivery: AbortController;
}): Promise<void> {
  const { service, graceMs, log } = options;
  service.drain();
  // Fastify stops listening, closes idle connections, answers 503 to new requests on kept-alive
  // ones, and resolves once those in flight are answered.
  const closed = service.close();
  const finished = await within(graceMs, closed);
  options.stopDelivery.abort();
  if (!finished) {
    log.warn(
      `shutdown: ${service.inFlight()} request(s) still in flight after ${graceMs} ms; closing their connections`,
      { inFlight: service.inFlight(), graceMs },
    );
  }
  service.server.closeAllConnections();
  await within(Math.max(1_000, graceMs / 4), options.delivering);
}

/** Waits for `promise` at most `ms`; true if it settled in time. */
async function within(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
