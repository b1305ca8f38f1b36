/**
 * Parsing on worker threads gives exactly what parsing on one thread gives: the same findings at
 * the same positions, the same documents, for clean, broken and hostile input. Run through the
 * built command (the worker is compiled JavaScript), threads forced on and off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseThreads } from '../src/files/parse-threads.js';
import { runRosterAsync } from './support/run-roster.js';
import { createWorkspace, doc, type Workspace } from './support/workspace.js';

let ws: Workspace;

beforeAll(() => {
  ws = createWorkspace('postgresql://unused');
  ws.write(
    'plans.yaml',
    doc('Plan', 'team', { seats: { paid: 10 }, features: ['members'], maxResources: 5 }),
  );
  for (let i = 0; i < 150; i++) {
    ws.write(
      `tenants/t${i}.yaml`,
      doc('Organization', `org-${i}`, {
        plan: 'team',
        owner: `owner@org-${i}.example`,
        members: [{ user: `dev@org-${i}.example`, role: i % 37 === 0 ? 'admin' : 'developer' }],
      }),
    );
  }
  // Files the workers must decline or that test the JSON round trip.
  ws.write('odd/anchors.yaml', 'a: &x 1\nb: *x\n');
  ws.write(
    'odd/infinity.yaml',
    doc('Plan', 'inf', { seats: { paid: 1 } })
      .replace('paid: 1', 'paid: .inf')
      .replace('{"paid":1}', '{ paid: .inf }'),
  );
  ws.write(
    'odd/minus-zero.yaml',
    'apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: z }\nspec: { seats: { paid: -0 } }\n',
  );
  ws.write(
    'odd/duplicate.yaml',
    doc('Organization', 'org-3', { plan: 'team', owner: 'x@y.example' }),
  );
  ws.write(
    'odd/not-utf8.yaml',
    Buffer.from([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).toString('latin1'),
  );
  ws.write(
    'odd/escape.yaml',
    'apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: "e\\u200bx" }\nspec: { seats: { paid: 1 } }\n',
  );
});

afterAll(() => ws?.dispose());

async function validate(path: string, threads: string) {
  const run = await runRosterAsync(['validate', '-f', path, '--format', 'json'], {
    cwd: ws.dir,
    env: { ROSTER_PARSE_THREADS: threads },
  });
  return {
    status: run.status,
    report: JSON.parse(run.stdout) as { findings: unknown[]; documents: number },
  };
}

describe('parsing on worker threads', () => {
  it('reports exactly what one thread reports, positions included', async () => {
    const one = await validate('.', '0');
    const two = await validate('.', '2');
    expect(one.report.documents).toBeGreaterThan(150);
    expect(one.report.findings.length).toBeGreaterThan(5);
    expect(two).toEqual(one);
    expect(JSON.stringify(one.report.findings)).toMatch(/"line":\d+/);
  });

  it('uses threads for large inputs only, unless told', () => {
    expect(parseThreads(1024, {})).toBe(0);
    expect(parseThreads(64 * 1024 * 1024, {})).toBeGreaterThan(0);
    expect(parseThreads(1024, { ROSTER_PARSE_THREADS: '3' })).toBe(3);
    expect(parseThreads(64 * 1024 * 1024, { ROSTER_PARSE_THREADS: '0' })).toBe(0);
    expect(parseThreads(64 * 1024 * 1024, { ROSTER_PARSE_THREADS: 'many' })).toBe(0);
  });
});
