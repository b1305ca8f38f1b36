/**
 * Loads many sources with the parsing on worker threads: the fast path (js-yaml) is most of the
 * time of loading a large tree, and it parallelises. Workers read batches of files while this
 * thread checks the batches already back, in source order, so the result is the same as
 * `loadSources`': values read by a worker are wrapped here with the same lazy exact positions,
 * and any file a worker declines is parsed here, the exact way.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DEFAULT_LIMITS } from '../core/limits.js';
import { DocumentChecker, loadSources, type LoadOptions, type LoadResult } from '../core/load.js';
import {
  decodeText,
  fastDocuments,
  parseSource,
  type ParsedSource,
  type Source,
} from '../core/parse.js';
import type { ParseRequest, ParseResponse } from './parse-worker.js';

/** Below this many bytes, starting threads costs more than it saves. */
const MIN_PARALLEL_BYTES = 4 * 1024 * 1024;
/** Files per message: large enough to amortise messaging, small enough to balance threads. */
const BATCH_FILES = 64;
/** Batches sent ahead to each worker, so that it never waits for this thread. */
const IN_FLIGHT = 2;

/**
 * Threads to use: ROSTER_PARSE_THREADS when set (0 turns them off; any other value forces them,
 * whatever the input's size), else one per core up to 4 for inputs over 4 MB.
 */
export function parseThreads(totalBytes: number, env: NodeJS.ProcessEnv = process.env): number {
  const configured = env.ROSTER_PARSE_THREADS;
  if (configured !== undefined && configured !== '') {
    const n = Number(configured);
    return Number.isInteger(n) && n >= 0 ? Math.min(n, 16) : 0;
  }
  if (totalBytes < MIN_PARALLEL_BYTES) return 0;
  return Math.min(4, availableParallelism());
}

/** The compiled worker; absent when running from the TypeScript sources (tests): no threads. */
const WORKER = new URL('./parse-worker.js', import.meta.url);

/** `loadSources`, parsing on worker threads when the input is large (see `parseThreads`). */
export async function loadSourcesInThreads(
  sources: readonly Source[],
  options: LoadOptions = {},
): Promise<LoadResult> {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const bytes = sources.reduce(
    (sum, s) => sum + (typeof s.content === 'string' ? s.content.length : s.content.byteLength),
    0,
  );
  const threads = parseThreads(bytes);
  if (threads <= 0 || sources.length === 0 || !existsSync(fileURLToPath(WORKER))) {
    return loadSources(sources, options);
  }
  const checker = new DocumentChecker();

  const results: (ParsedSource | undefined)[] = new Array(sources.length);
  let checkedUpTo = 0;
  const checkReady = () => {
    while (checkedUpTo < sources.length && results[checkedUpTo] !== undefined) {
      checker.add(results[checkedUpTo] as ParsedSource);
      results[checkedUpTo] = undefined; // checked: let it go
      checkedUpTo++;
    }
  };
  const batches: number[][] = [];
  for (let start = 0; start < sources.length; start += BATCH_FILES) {
    const size = Math.min(BATCH_FILES, sources.length - start);
    batches.push(Array.from({ length: size }, (_, i) => start + i));
  }
  const workers = Array.from(
    { length: Math.min(threads, batches.length) },
    () => new Worker(WORKER),
  );
  try {
    let next = 0;
    const lane = async (worker: Worker, pending: Map<number, (r: ParseResponse) => void>) => {
      while (next < batches.length) {
        const id = next++;
        const batch = batches[id] as number[];
        const request: ParseRequest = {
          id,
          contents: batch.map((i) => (sources[i] as Source).content),
          limits,
        };
        const response = await new Promise<ParseResponse>((resolve) => {
          pending.set(id, resolve);
          worker.postMessage(request);
        });
        batch.forEach((i, k) => {
          const source = sources[i] as Source;
          const json = response.values[k];
          results[i] =
            json === null || json === undefined
              ? parseSource(source, limits)
              : fastDocuments(
                  source.path,
                  () => decodeText(source.content) as string,
                  JSON.parse(json) as unknown[],
                  limits,
                );
        });
        checkReady();
      }
    };
    await Promise.all(
      workers.map((worker) => {
        const pending = new Map<number, (r: ParseResponse) => void>();
        const failed = new Promise<never>((_, reject) => worker.once('error', reject));
        worker.on('message', (response: ParseResponse) => {
          pending.get(response.id)?.(response);
          pending.delete(response.id);
        });
        const lanes = Array.from({ length: IN_FLIGHT }, () => lane(worker, pending));
        return Promise.race([Promise.all(lanes), failed]);
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  checkReady();
  if (checkedUpTo !== sources.length) throw new Error('internal error: a parsed batch is missing');
  return checker.finish(options);
}
