/**
 * A worker thread of `parse-threads.ts`: reads plain files with the fast path and sends their
 * values back as JSON text (which the main thread parses far faster than it could parse YAML).
 * A file that needs the exact path, or whose values JSON cannot carry exactly, is answered with
 * null: the main thread parses it itself, with every check and position.
 */
import { parentPort } from 'node:worker_threads';
import { decodeText, fastValues } from '../core/parse.js';
import type { InputLimits } from '../core/limits.js';

/** A batch of files to read. */
export interface ParseRequest {
  readonly id: number;
  readonly contents: readonly (Uint8Array | string)[];
  readonly limits: InputLimits;
}

/** For each file of the batch: its values as JSON, or null (the main thread takes it). */
export interface ParseResponse {
  readonly id: number;
  readonly values: readonly (string | null)[];
}

/** JSON.stringify, or undefined when a value would not come back the same (NaN, ±Infinity, -0). */
function exactJson(values: unknown): string | undefined {
  let exact = true;
  const text = JSON.stringify(values, (_key, value: unknown) => {
    if (typeof value === 'number' && (!Number.isFinite(value) || Object.is(value, -0))) {
      exact = false;
    }
    return value;
  });
  return exact ? text : undefined;
}

function valuesOf(content: Uint8Array | string, limits: InputLimits): string | null {
  const size = typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength;
  if (size > limits.maxFileBytes) return null;
  const text = decodeText(content);
  if (typeof text !== 'string') return null;
  const values = fastValues(text, limits);
  return values === undefined ? null : (exactJson(values) ?? null);
}

parentPort?.on('message', (request: ParseRequest) => {
  const response: ParseResponse = {
    id: request.id,
    values: request.contents.map((content) => valuesOf(content, request.limits)),
  };
  parentPort?.postMessage(response);
});
