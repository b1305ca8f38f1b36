/**
 * `roster apply -f … --yes` through the library's functions, in this process: for tests that need
 * what the CLI does not expose (the plan's JSON as an object, the COPY threshold).
 */
import { Readable, Writable } from 'node:stream';
import type pg from 'pg';
import type { CliIo } from '../../src/command/io.js';
import { planOptionsFrom } from '../../src/cli/commands/plan-options.js';
import { prepareInput, recorder, type PreparedInput } from '../../src/cli/plan-input.js';
import { applyChanges, PlanRefusedError, type ApplyResult } from '../../src/store/apply.js';

/** A CLI's streams in memory: what it writes to standard error is kept. */
export function memoryIo(cwd: string): CliIo & { errors: () => string } {
  let stderr = '';
  return {
    stdout: new Writable({ write: (_chunk, _encoding, done) => done() }),
    stderr: new Writable({
      write(chunk: Buffer, _encoding, done) {
        stderr += chunk.toString();
        done();
      },
    }),
    stdin: Readable.from([]),
    cwd,
    env: {},
    errors: () => stderr,
  };
}

/** What `roster plan -f PATHS` reads and plans from, or `undefined` when the input is invalid. */
export function prepare(
  pool: pg.Pool,
  cwd: string,
  options: { paths?: readonly string[]; full: boolean; now?: Date; io?: CliIo },
): Promise<PreparedInput | undefined> {
  const now = options.now ?? new Date();
  return prepareInput(async () => pool, {
    paths: options.paths ?? ['.'],
    io: options.io ?? memoryIo(cwd),
    strict: false,
    full: options.full,
    options: (state) => planOptionsFrom({}, state, now),
  });
}

/**
 * `roster apply -f PATHS --yes`: `undefined` when the input is invalid or the plan is refused
 * (nothing applied).
 */
export async function applyFiles(
  pool: pg.Pool,
  cwd: string,
  options: { paths?: readonly string[]; full: boolean; copyFrom?: number },
): Promise<ApplyResult | undefined> {
  const prepared = await prepare(pool, cwd, options);
  if (prepared === undefined) return undefined;
  const record = recorder(prepared);
  try {
    return await applyChanges(
      pool,
      { desired: prepared.desired, options: prepared.options },
      {
        actor: 'test',
        ...(record !== undefined && { record }),
        ...(options.copyFrom !== undefined && { copyFrom: options.copyFrom }),
      },
    );
  } catch (error) {
    if (error instanceof PlanRefusedError) return undefined;
    throw error;
  }
}
