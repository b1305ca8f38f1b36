/**
 * Structured logs on pino (see docs/adr/0005-one-model-per-kind.md): one JSON object per line,
 * `{"level":"info","time":"…","msg":"…", …fields}`, what log pipelines in a cluster expect.
 * Fields that name secrets are redacted whatever the caller passes.
 */
import { pino } from 'pino';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Field names never written in clear, at the top level or one level down. */
const SECRETS = ['password', 'token', 'apiKey', 'authorization', 'databaseUrl', 'smtpUrl'];

/** A logger writing JSON lines to `stream`, dropping levels below `minimum`. */
export function jsonLogger(stream: NodeJS.WritableStream, minimum: Level = 'info'): Logger {
  const log = pino(
    {
      level: minimum,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...SECRETS, ...SECRETS.map((s) => `*.${s}`)], censor: '[redacted]' },
    },
    stream as pino.DestinationStream,
  );
  return {
    debug: (message, fields) => log.debug(fields ?? {}, message),
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
    error: (message, fields) => log.error(fields ?? {}, message),
  };
}
