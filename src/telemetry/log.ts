/**
 * Structured logs: one JSON object per line (what log pipelines in a cluster expect), with a
 * level, a message and fields. Callers never pass secrets (database URLs, tokens, passwords).
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const RANK: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger writing JSON lines to `stream`, dropping levels below `minimum`. */
export function jsonLogger(stream: NodeJS.WritableStream, minimum: Level = 'info'): Logger {
  const write = (level: Level, message: string, fields: Record<string, unknown> = {}) => {
    if (RANK[level] < RANK[minimum]) return;
    stream.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...fields })}\n`,
    );
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
