/**
 * A cluster for operator tests: the protocol-level API server with Roster's CRDs applied by the
 * real kubectl, a fresh access database, a real SMTP server on loopback, and operators started
 * in this process against them.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { Operator, type OperatorOptions } from '../../src/operator/operator.js';
import { jsonLogger, type Logger } from '../../src/telemetry/log.js';
import { smtpTransport } from '../../src/mail/transport.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { ROOT } from '../support/run-roster.js';
import { startSmtp, type CapturingSmtp } from '../support/smtp.js';
import { KubeApiServer } from './api-server.js';
import { kubectlFor, type Kubectl } from './kubectl.js';

export interface TestCluster {
  readonly api: KubeApiServer;
  readonly kubectl: Kubectl;
  readonly db: TestDatabase;
  readonly smtp: CapturingSmtp;
  /** Log lines of every operator started here. */
  readonly logs: string[];
  startOperator(overrides?: Partial<OperatorOptions> & { identity?: string }): Promise<Operator>;
  dispose(): Promise<void>;
}

/** Waits until `check` returns a value other than undefined/false, or fails with `what`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startCluster(): Promise<TestCluster> {
  const api = new KubeApiServer();
  await api.start();
  const kubectl = kubectlFor(api);
  const crds = await kubectl(['apply', '--validate=false', '-k', `${ROOT}crds/`]);
  if (crds.status !== 0) throw new Error(`kubectl apply crds failed: ${crds.stderr}`);
  const db = await createTestDatabase();
  const smtp = await startSmtp();
  const logs: string[] = [];
  const operators: Operator[] = [];
  const stream = {
    write: (line: string) => logs.push(line.trimEnd()) !== 0,
  } as unknown as NodeJS.WritableStream;
  const log: Logger = jsonLogger(stream, 'debug');
  return {
    api,
    kubectl,
    db,
    smtp,
    logs,
    async startOperator(overrides = {}) {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromString(api.kubeconfig());
      const { identity, ...rest } = overrides;
      const operator = new Operator({
        kubeConfig,
        pool: db.pool,
        log,
        cluster: 'test',
        workers: 2,
        queue: { baseDelayMs: 100, maxDelayMs: 2_000 },
        delivery: {
          transport: smtpTransport(smtp.url),
          publicUrl: 'http://access.test',
          from: 'Roster <roster@access.test>',
          retryBaseMs: 100,
        },
        deliveryIntervalMs: 500,
        probePort: 0,
        probeHost: '127.0.0.1',
        leaderElection: {
          namespace: 'default',
          name: 'roster-operator',
          identity: identity ?? `operator-${operators.length}`,
          leaseDurationSeconds: 3,
          retryPeriodMs: 200,
          renewDeadlineMs: 2_000,
        },
        ...rest,
      });
      operators.push(operator);
      await operator.start();
      return operator;
    },
    async dispose() {
      await Promise.all(operators.map((o) => o.stop()));
      await api.stop();
      await smtp.close();
      await db.drop();
      kubectl.dispose();
    },
  };
}
