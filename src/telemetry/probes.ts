/**
 * The health and metrics endpoints every long-running driver serves, answered the same way by
 * `roster serve` (among its routes) and `roster operator` (on its probe port): `/healthz` fails
 * only when restarting the process would help, `/readyz` whenever it should get no traffic (or
 * work), `/metrics` in Prometheus' text format. The driver says why; this module says it.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

/** What a driver knows about its own health. */
export interface Probes {
  /** Why the process should be restarted, or null. */
  notAliveReason(): Promise<string | null> | string | null;
  /** Why it should get no traffic now, or null. */
  notReadyReason(): Promise<string | null> | string | null;
}

/** The paths answered here. */
export const PROBE_PATHS = ['/healthz', '/readyz', '/metrics'] as const;
export type ProbePath = (typeof PROBE_PATHS)[number];

const text = (res: ServerResponse, status: number, body: string) => {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  res.end(body);
};

/** A probe's answer: status, content type and body. */
export interface ProbeAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** One probe's answer: 200 `ok`, or 503 with the reason; `/metrics` from the registry. */
export async function probeAnswer(
  path: ProbePath,
  probes: Probes | undefined,
  registry: Registry | undefined,
): Promise<ProbeAnswer> {
  if (path === '/metrics') {
    if (registry === undefined) throw new Error('no metrics registry');
    return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
  }
  if (probes === undefined) throw new Error('no probes');
  const reason = await (path === '/healthz' ? probes.notAliveReason() : probes.notReadyReason());
  const contentType = 'text/plain; charset=utf-8';
  if (reason === null) return { status: 200, contentType, body: 'ok\n' };
  const what = path === '/healthz' ? 'not alive' : 'not ready';
  return { status: 503, contentType, body: `${what}: ${reason}\n` };
}

/** Answers one probe on a bare node:http response. */
async function answerProbe(
  path: ProbePath,
  res: ServerResponse,
  probes: Probes | undefined,
  registry: Registry | undefined,
): Promise<void> {
  const answer = await probeAnswer(path, probes, registry);
  res.writeHead(answer.status, { 'Content-Type': answer.contentType, 'Cache-Control': 'no-store' });
  res.end(answer.body);
}

/**
 * A server of probes alone: `/healthz` and `/readyz` when `probes` is given, `/metrics` when
 * `registry` is (metrics may have a port of their own); 404 elsewhere, 405 for methods other
 * than GET and HEAD.
 */
export function createProbeServer(
  probes: Probes | undefined,
  registry: Registry | undefined,
): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer =
      path === '/metrics'
        ? registry && (() => answerProbe(path, res, probes, registry))
        : (path === '/healthz' || path === '/readyz') && probes
          ? () => answerProbe(path, res, probes, registry)
          : undefined;
    if (!answer) return text(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return text(res, 405, 'method not allowed\n');
    }
    answer().catch((error: unknown) =>
      text(res, 500, `${error instanceof Error ? error.message : String(error)}\n`),
    );
  });
}
