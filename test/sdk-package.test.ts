/**
 * The SDK as users install it: `npm run package` packs it as its own npm package; a program in a
 * project configured like Pulumi's stock TypeScript template (`module: commonjs`,
 * `moduleResolution: node`, strict) type-checks against the packed package, a typo does not, and
 * the CommonJS build runs under Pulumi's mocks.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageSdk, SDK_PACKAGE } from '../scripts/package-sdk.js';
import { ROOT } from './support/run-roster.js';

let project: string;
let tarball: string;

beforeAll(async () => {
  tarball = await packageSdk();
  project = mkdtempSync(join(tmpdir(), 'roster-sdk-'));
  const installed = join(project, 'node_modules', ...SDK_PACKAGE.split('/'));
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  // The program's own dependencies, as `npm install` would give them.
  // (the template installs @types/node; Pulumi's SDK brings its own dependencies).
  mkdirSync(join(project, 'node_modules', '@types'));
  for (const dependency of ['@pulumi', '@types/node', 'json-schema-to-ts', 'ts-algebra']) {
    symlinkSync(join(ROOT, 'node_modules', dependency), join(project, 'node_modules', dependency));
  }
  // Pulumi's `pulumi new typescript` template.
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        outDir: 'bin',
        target: 'es2020',
        module: 'commonjs',
        moduleResolution: 'node',
        sourceMap: true,
        experimentalDecorators: true,
        pretty: false,
        noFallthroughCasesInSwitch: true,
        noImplicitReturns: true,
        forceConsistentCasingInFileNames: true,
      },
      files: ['index.ts'],
    }),
  );
}, 120_000);
afterAll(() => rmSync(project, { recursive: true, force: true }));

const typecheck = (program: string) => {
  writeFileSync(join(project, 'index.ts'), program);
  return spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project],
    {
      encoding: 'utf8',
    },
  );
};

describe('the packed SDK', () => {
  it('is its own package, named as the schema says, with both builds, types and plugin metadata', () => {
    const manifest = JSON.parse(
      readFileSync(
        join(project, 'node_modules', ...SDK_PACKAGE.split('/'), 'package.json'),
        'utf8',
      ),
    );
    const schema = JSON.parse(readFileSync(join(ROOT, 'provider', 'schema.json'), 'utf8'));
    expect(manifest.name).toBe(schema.language.nodejs.packageName);
    expect(manifest).toMatchObject({
      main: 'dist/index.cjs',
      types: 'dist/index.d.ts',
      pulumi: { resource: true, name: 'roster', version: schema.version },
      peerDependencies: { '@pulumi/pulumi': expect.any(String) },
    });
  });

  it("type-checks a program in a project like Pulumi's TypeScript template, and catches a typo", () => {
    const ok = typecheck(`import * as roster from '${SDK_PACKAGE}';
const plan = new roster.Plan('growth', { name: 'growth', seats: { paid: 25, free: 5 }, features: ['members'] });
const org = new roster.Organization('northwind', { name: 'northwind', plan: plan.name, owner: 'nadia@northwind.example' });
const omar = new roster.Membership('omar', { org: org.name, user: 'omar@northwind.example', role: 'developer' });
export const state = omar.invitationState;
export const imported = roster.Membership.get('bob', 'northwind/bob@northwind.example').status;
`);
    expect(ok.stdout + ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const typo = typecheck(`import * as roster from '${SDK_PACKAGE}';
new roster.Membership('omar', { org: 'northwind', user: 'omar@northwind.example', rol: 'developer' });
`);
    expect(typo.status).not.toBe(0);
    expect(typo.stdout).toMatch(
      /index\.ts\(2,\d+\): error TS2561: .*'rol' does not exist .*Did you mean to write 'role'\?/,
    );
  });

  it('type-checks examples/pulumi, a standalone project, against the packed SDK', () => {
    for (const file of ['index.ts', 'tenant.ts', 'tsconfig.json']) {
      writeFileSync(join(project, file), readFileSync(join(ROOT, 'examples', 'pulumi', file)));
    }
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project, '--pretty', 'false'],
      { encoding: 'utf8' },
    );
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
    const example = JSON.parse(
      readFileSync(join(ROOT, 'examples', 'pulumi', 'package.json'), 'utf8'),
    );
    expect(example.dependencies[SDK_PACKAGE]).toBe(`file:../../build/${tarball.split('/').pop()}`);
  });

  it("runs its CommonJS build under Pulumi's mocks", () => {
    writeFileSync(
      join(project, 'run.cjs'),
      `const pulumi = require('@pulumi/pulumi');
pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: { ...a.inputs, status: 'invited' } }), call: () => ({}) }, 'p', 's', false);
const roster = require('${SDK_PACKAGE}');
const m = new roster.Membership('omar', { org: 'northwind', user: 'omar@northwind.example', role: 'developer' });
m.urn.apply((urn) => console.log(urn));
`,
    );
    const run = spawnSync(process.execPath, ['run.cjs'], { cwd: project, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('roster:index:Membership::omar');
  });
});
