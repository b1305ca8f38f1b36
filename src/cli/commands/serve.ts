/** `roster serve`: the invitation pages, the access API, health, metrics, and continuous delivery. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { openAccessDatabase } from '../../db/connect.js';
import { deliverOutbox } from '../../invitations/deliver.js';
import { ServerMetrics } from '../../server/metrics.js';
import { createRosterServer } from '../../server/server.js';
import type { CliIo } from '../io.js';
import { deliveryOptionsFrom } from '../delivery-config.js';
import { whoAmI } from '../session.js';

/** Help text of the command. */
export const SERVE_HELP = `Usage: roster serve [--port N] [--host ADDRESS] [--delivery-interval SECONDS]

Serves the invitation pages (/invitations/TOKEN), the access API (/api/v1/..., described by
/api/openapi.json, protected by keys from "roster api-keys create"), /healthz, /readyz and
/metrics; and delivers queued invitations continuously.

Options:
      --port N                   port to listen on (default 8080, or PORT)
      --host ADDRESS             address to bind (default 127.0.0.1; 0.0.0.0 in a container)
      --delivery-interval S      seconds between delivery rounds (default 10; 0 turns delivery off)

Environment: DATABASE_URL, SMTP_URL, ROSTER_PUBLIC_URL (the address people reach this server
at, for the links in e-mails), ROSTER_APP_URL (where to send people after they accept),
ROSTER_MAIL_FROM. Stops gracefully on SIGINT or SIGTERM.
`;

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
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(SERVE_HELP);
    return 0;
  }
  const port = Number(values.port ?? io.env.PORT ?? '8080');
  const interval = Number(values['delivery-interval']);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a port number, not "${values.port}"`);
  }
  if (!(interval >= 0)) throw new UsageError('--delivery-interval must be a number of seconds');

  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster serve (${whoAmI()})`,
  });
  const metrics = new ServerMetrics();
  const delivery = deliveryOptionsFrom(io);
  const log = (line: string) => io.stderr.write(`${line}\n`);
  const server = createRosterServer({
    pool: database.pool,
    metrics,
    ...(io.env.ROSTER_APP_URL ? { appUrl: io.env.ROSTER_APP_URL } : {}),
    log,
  });
  server.listen(port, values.host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  io.stdout.write(
    `Roster is serving on http://${values.host}:${address.port} (mail: ${delivery.transport.description})\n`,
  );

  let delivering: Promise<void> = Promise.resolve();
  const deliverRound = () => {
    delivering = deliverOutbox(database.pool, delivery)
      .then((report) => {
        metrics.delivered.inc({}, report.sent);
        metrics.deliveryFailures.inc({}, report.failed);
        if (report.sent + report.failed + report.requeued + report.expired > 0) {
          log(JSON.stringify({ time: new Date().toISOString(), delivery: report }));
        }
      })
      .catch((error: unknown) => {
        log(`delivery: ${error instanceof Error ? error.message : String(error)}`);
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
  log('shutting down');
  if (timer !== undefined) clearInterval(timer);
  server.close();
  server.closeAllConnections();
  await delivering;
  delivery.transport.close();
  await database.close();
  return 0;
}
