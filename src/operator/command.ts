/** `roster operator`: runs the Kubernetes operator until a signal (or until it loses leadership). */
import { leastPrivilegeOption } from '../command/lint-rules.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { UsageError } from '../core/errors.js';
import { openAccessDatabase } from '../store/connect.js';
import { jsonLogger, type Level } from '../telemetry/log.js';
import type { CliIo } from '../command/io.js';
import { deliveryOptionsFrom } from '../command/delivery-config.js';

/** Help text of the command. */
export const OPERATOR_HELP = `Usage: roster operator [options]

Reconciles Roster's custom resources (Plan, Role, User, Organization, Membership, Grant, Contact; see
crds/) against the access database, continuously, and sends the invitations. Install the CRDs
and the operator with "kubectl apply -k deploy/" (see docs/operator.md).

Options:
      --kubeconfig PATH          kubeconfig to use (default: in-cluster, then KUBECONFIG, then
                                 ~/.kube/config)
      --context NAME             kubeconfig context (default: the current one)
      --namespace NS             watch one namespace (default: all namespaces)
      --cluster NAME             this cluster's name in the records' manager,
                                 operator:NAME/NAMESPACE (default "default", or ROSTER_CLUSTER)
      --workers N                organizations reconciled in parallel (default 2)
      --resync SECONDS           re-check every resource this often, correcting drift made in
                                 the database (default 300)
      --leader-elect             elect a leader on a Lease, so that several replicas are safe
      --lease-namespace NS       the Lease's namespace (default POD_NAMESPACE, or "default")
      --lease-name NAME          the Lease (default roster-operator; with --namespace NS,
                                 roster-operator-NS: each namespace is a shard of its own,
                                 with its own leader)
      --probe-port N             serve /healthz and /readyz (and /metrics, unless
                                 --metrics-port) (default 8081; 0: off)
      --metrics-port N           serve /metrics on a port of its own (default: the probe port)
      --kube-qps N               writes to the API server per second (default 20)
      --kube-burst N             writes allowed at once above that rate (default 30)
      --delivery-interval S      seconds between invitation delivery rounds (default 10; 0: off,
                                 when "roster serve" delivers instead)
      --max-org-removal-ratio R  refuse removing more than this share of an organization's
                                 members at once (default 0.25; deleting the Organization is
                                 exempt)
      --lint-rules FILE          least-privilege rules (docs/format.md); a rule of severity
                                 error marks the roles it finds Invalid (default:
                                 ROSTER_LINT_RULES, else Roster's own rules, warnings only)
      --log-level LEVEL          debug, info, warn or error (default info)

Environment: DATABASE_URL, SMTP_URL, ROSTER_PUBLIC_URL, ROSTER_MAIL_FROM, POD_NAME (the
replica's identity in the Lease). Logs are JSON lines on stderr. Stops gracefully on SIGINT or
SIGTERM: in-flight reconciles finish and the Lease is handed back. Exits 1 if it loses the Lease.
`;

const LEVELS = ['debug', 'info', 'warn', 'error'];

/** Runs the operator until a signal; returns the exit code. */
export async function operatorCommand(
  args: string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      cluster: { type: 'string' },
      workers: { type: 'string', default: '2' },
      resync: { type: 'string', default: '300' },
      'leader-elect': { type: 'boolean', default: false },
      'lease-namespace': { type: 'string' },
      'lease-name': { type: 'string' },
      'probe-port': { type: 'string', default: '8081' },
      'metrics-port': { type: 'string' },
      'kube-qps': { type: 'string', default: '20' },
      'kube-burst': { type: 'string', default: '30' },
      'delivery-interval': { type: 'string', default: '10' },
      'max-org-removal-ratio': { type: 'string', default: '0.25' },
      'log-level': { type: 'string', default: 'info' },
      'lint-rules': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    io.stdout.write(OPERATOR_HELP);
    return 0;
  }
  const number = (name: string, value: string, min: number, max: number) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`--${name} must be a number from ${min} to ${max}, not "${value}"`);
    }
    return n;
  };
  const workers = number('workers', values.workers, 1, 64);
  const resync = number('resync', values.resync, 1, 86_400);
  const probePort = number('probe-port', values['probe-port'], 0, 65_535);
  const metricsPort =
    values['metrics-port'] === undefined
      ? undefined
      : number('metrics-port', values['metrics-port'], 1, 65_535);
  const deliveryInterval = number('delivery-interval', values['delivery-interval'], 0, 86_400);
  const qps = number('kube-qps', values['kube-qps'], 0.1, 10_000);
  const burst = number('kube-burst', values['kube-burst'], 1, 10_000);
  const ratio = number('max-org-removal-ratio', values['max-org-removal-ratio'], 0, 1);
  if (!LEVELS.includes(values['log-level'])) {
    throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}`);
  }
  const leastPrivilege = await leastPrivilegeOption(values['lint-rules'], io);
  if (leastPrivilege === null) return 1;
  const cluster = values.cluster ?? io.env.ROSTER_CLUSTER ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(cluster)) {
    throw new UsageError(`--cluster must be a DNS label (a-z, 0-9, -), not "${cluster}"`);
  }

  // Loaded here, not at startup: the Kubernetes client takes longer to load than the rest of roster.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { Operator } = await import('./operator.js');
  const kubeConfig = new KubeConfig();
  try {
    if (values.kubeconfig !== undefined) kubeConfig.loadFromFile(values.kubeconfig);
    else kubeConfig.loadFromDefault();
    if (values.context !== undefined) kubeConfig.setCurrentContext(values.context);
  } catch (error) {
    throw new UsageError(
      `cannot load the kubeconfig: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new UsageError(
      'no Kubernetes cluster configured: run in a cluster, or pass --kubeconfig / set KUBECONFIG',
    );
  }

  const log = jsonLogger(io.stderr, values['log-level'] as Level);
  const database = await openAccessDatabase({
    env: io.env,
    cwd: io.cwd,
    applicationName: `roster operator (${cluster})`,
  });
  const delivery = deliveryInterval > 0 ? await deliveryOptionsFrom(io) : undefined;
  let lost = false;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const identity = `${io.env.POD_NAME || hostname()}_${randomBytes(4).toString('hex')}`;
  const operator = new Operator({
    kubeConfig,
    pool: database.pool,
    log,
    cluster,
    ...(values.namespace !== undefined && { namespace: values.namespace }),
    workers,
    resyncMs: resync * 1000,
    ...(delivery !== undefined && {
      delivery,
      deliveryIntervalMs: deliveryInterval * 1000,
    }),
    ...(probePort > 0 && { probePort }),
    ...(probePort > 0 && metricsPort !== undefined && { metricsPort }),
    rateLimit: { qps, burst, concurrency: 8 },
    maxOrgRemovalRatio: ratio,
    ...(leastPrivilege !== undefined && { leastPrivilege }),
    leaderElection: values['leader-elect']
      ? {
          namespace: values['lease-namespace'] ?? io.env.POD_NAMESPACE ?? 'default',
          name:
            values['lease-name'] ??
            (values.namespace === undefined
              ? 'roster-operator'
              : `roster-operator-${values.namespace}`),
          identity,
        }
      : false,
    onLostLeadership: () => {
      lost = true;
      stop();
    },
  });
  log.info('starting', {
    cluster,
    server: kubeConfig.getCurrentCluster()?.server,
    namespace: values.namespace ?? '(all)',
    database: database.description,
    mail: delivery?.transport.description ?? '(delivery off)',
    identity,
  });
  await operator.start();
  if (probePort > 0) log.info('probes listening', { port: operator.port });

  const onSignal = () => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  signal?.addEventListener('abort', onSignal, { once: true });
  await stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  log.info('shutting down');
  await operator.stop();
  delivery?.transport.close();
  await database.close();
  log.info('stopped');
  return lost ? 1 : 0;
}
