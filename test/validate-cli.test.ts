/**
 * `roster validate` end to end: the built command in a child process, on the examples and on a
 * tree of broken and hostile files.
 */
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasStackTrace, ROOT, runRoster } from './support/run-roster.js';

const scratch = mkdtempSync(join(tmpdir(), 'roster-validate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('roster validate', () => {
  it('accepts every example, together and one directory at a time', () => {
    const all = runRoster(['validate', '-f', 'examples/']);
    expect(all.stderr).toBe('');
    expect(all.status).toBe(0);
    expect(all.stdout).toMatch(/^valid: \d+ documents in \d+ files, 0 errors, 0 warnings\n$/);
    for (const example of readdirSync(join(ROOT, 'examples'))) {
      const one = runRoster(['validate', '-f', join('examples', example)]);
      expect(one.status, `${example}: ${one.stderr}`).toBe(0);
    }
  });

  it('reports every error of a broken tree at its file:line:column, with exit code 1', () => {
    const run = runRoster(['validate', '-f', 'test/fixtures/broken']);
    expect(run.status).toBe(1);
    expect(hasStackTrace(run.stderr)).toBe(false);
    const places = run.stderr
      .trim()
      .split('\n')
      .map((line) => /^(\S+:\d+:\d+): error: .* \[([a-z-]+)\]$/.exec(line)?.slice(1).join(' '));
    expect(places).toEqual([
      'test/fixtures/broken/acme.yaml:12:36 unknown-role',
      'test/fixtures/broken/acme.yaml:19:3 duplicate',
      'test/fixtures/broken/acme.yaml:30:13 unknown-resource',
      'test/fixtures/broken/acme.yaml:32:12 grant-expired',
      'test/fixtures/broken/nested/bomb.yml:2:8 yaml-alias',
      'test/fixtures/broken/nested/syntax.yaml:7:1 yaml-syntax',
      'test/fixtures/broken/nested/typos.yaml:9:3 unknown-field',
      'test/fixtures/broken/nested/typos.yaml:17:10 invalid',
      'test/fixtures/broken/nested/typos.yaml:18:25 not-allowed',
      'test/fixtures/broken/plans.yaml:7:23 not-allowed',
    ]);
    expect(run.stdout).toBe('invalid: 7 documents in 5 files, 10 errors, 0 warnings\n');
  });

  it('gives the same findings as JSON', () => {
    const text = runRoster(['validate', '-f', 'test/fixtures/broken']);
    const json = runRoster(['validate', '-f', 'test/fixtures/broken', '--format', 'json']);
    expect(json.status).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({
      version: 1,
      valid: false,
      documents: 7,
      errors: 10,
      warnings: 0,
    });
    expect(report.findings).toHaveLength(text.stderr.trim().split('\n').length);
    expect(report.findings[0]).toEqual({
      severity: 'error',
      code: 'unknown-role',
      message: expect.stringContaining('role "admin" does not exist'),
      location: { file: 'test/fixtures/broken/acme.yaml', line: 12, column: 36 },
    });
    expect(report.findings[1].related).toEqual([
      { file: 'test/fixtures/broken/acme.yaml', line: 11, column: 7 },
    ]);
  });

  it('reads standard input for -', () => {
    const input =
      'apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: p }\nspec: { seats: { paid: 0 } }\n';
    const run = runRoster(['validate', '-f', '-'], { input });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^<stdin>:4:16: error: a plan needs at least one seat/);
  });

  it('fails warnings only with --strict', () => {
    const role =
      'apiVersion: roster.dev/v1alpha1\nkind: Role\nmetadata: { name: developer-plus }\nspec: { scope: organization, permissions: [billing.view, resources.manage] }\n';
    const lenient = runRoster(['validate', '-f', '-'], { input: role });
    expect(lenient.status).toBe(0);
    expect(lenient.stderr).toMatch(
      /^<stdin>:4:58: warning: .*least privilege.*\[least-privilege\]$/m,
    );
    const strict = runRoster(['validate', '--strict', '-f', '-'], { input: role });
    expect(strict.status).toBe(1);
    expect(strict.stdout).toContain('invalid: 1 document in 1 file, 0 errors, 1 warning');
  });

  it('rejects hostile files with a message each and no stack trace', () => {
    const dir = join(scratch, 'hostile');
    cpSync(join(ROOT, 'test/fixtures/broken/nested/bomb.yml'), join(dir, 'bomb.yaml'), {
      recursive: true,
    });
    writeFileSync(
      join(dir, 'binary.yaml'),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
    );
    writeFileSync(join(dir, 'deep.yaml'), '['.repeat(200_000));
    writeFileSync(join(dir, 'dashes.yaml'), '- '.repeat(50_000));
    writeFileSync(join(dir, 'huge.yaml'), `a: "${'x'.repeat(9 * 1024 * 1024)}"\n`);
    writeFileSync(
      join(dir, 'proto.yaml'),
      'apiVersion: roster.dev/v1alpha1\n__proto__: { kind: Plan }\n',
    );
    writeFileSync(
      join(dir, 'trojan.yaml'),
      'apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: "p\u202e" }\n',
    );
    const run = runRoster(['validate', '-f', dir]);
    expect(run.status).toBe(1);
    expect(hasStackTrace(run.stderr)).toBe(false);
    const codes = run.stderr
      .trim()
      .split('\n')
      .map((l) => `${l.split(':')[0]?.split('/').pop()} ${/\[([a-z-]+)\]$/.exec(l)?.[1]}`);
    expect(codes).toEqual([
      'binary.yaml not-text',
      'bomb.yaml yaml-alias',
      'dashes.yaml too-deep',
      'deep.yaml too-deep',
      'huge.yaml file-too-large',
      'proto.yaml forbidden-key',
      'trojan.yaml hidden-character',
    ]);
  });

  it('skips the YAML of other tools when walking a directory, but reads a file named explicitly', () => {
    const dir = join(scratch, 'mixed');
    cpSync(join(ROOT, 'examples/small-saas'), dir, { recursive: true });
    writeFileSync(join(dir, 'Pulumi.yaml'), 'name: x\nruntime: nodejs\n');
    writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [tenant.yaml]\n');
    expect(runRoster(['validate', '-f', dir]).status).toBe(0);
    const named = runRoster(['validate', '-f', join(dir, 'Pulumi.yaml')]);
    expect(named.status).toBe(1);
    expect(named.stderr).toContain('missing apiVersion');
  });

  it('takes a larger size cap on request', () => {
    const dir = join(scratch, 'big');
    cpSync(join(ROOT, 'examples/small-saas'), dir, { recursive: true });
    // The message gives the file's real size, not where the reader stopped.
    const size = statSync(join(dir, 'tenant.yaml')).size;
    expect(size).toBeGreaterThan(800);
    expect(runRoster(['validate', '-f', dir, '--max-file-size', '100B']).stderr).toContain(
      `error: file is ${size} bytes, over the limit of 100: split it into several files (or raise --max-file-size) [file-too-large]`,
    );
    // From standard input the size is unknown past the limit, and the message says so.
    const piped = runRoster(['validate', '-f', '-', '--max-file-size', '100B'], {
      input: readFileSync(join(dir, 'tenant.yaml')),
    });
    expect(piped.stderr).toContain('error: file is more than 100 bytes, over the limit of 100');
    expect(runRoster(['validate', '-f', dir, '--max-file-size', '1MiB']).status).toBe(0);
  });

  it('explains a missing path, a bad flag and an unknown command', () => {
    const missing = runRoster(['validate', '-f', 'no/such/dir']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe('no/such/dir:1:1: error: no such file or directory [unreadable]\n');
    for (const args of [
      ['validate', '--frobnicate'],
      ['validate'],
      ['validate', '-f', 'x', '--format', 'xml'],
      ['frobnicate'],
    ]) {
      const run = runRoster(args);
      expect(run.status, args.join(' ')).toBe(1);
      expect(run.stderr, args.join(' ')).toMatch(/^roster: .+\nRun "roster --help" for usage.\n$/);
    }
  });

  it('prints help and version', () => {
    expect(runRoster(['--help']).stdout).toContain('validate -f PATH');
    expect(runRoster(['validate', '--help']).stdout).toContain('--strict');
    expect(runRoster(['version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
