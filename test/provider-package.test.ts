/**
 * The provider as users install it: `npm run package` builds the plugin archive; extracted into
 * an empty directory, its executable starts with only Node on PATH (no node_modules, no
 * repository) and serves the engine's RPCs against a real PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toStruct, type Properties } from '../src/provider/properties.js';
import { packageProvider } from '../scripts/package-provider.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { startProvider, type ProviderProcess } from './support/provider-process.js';

let db: TestDatabase;
let dir: string;
let archive: string;
let provider: ProviderProcess;

const rpc = <Req, Res>(method: string, request: Req) => provider.rpc<Req, Res>(method, request);

beforeAll(async () => {
  db = await createTestDatabase();
  archive = await packageProvider();
  dir = mkdtempSync(join(tmpdir(), 'roster-plugin-'));
  execFileSync('tar', ['-xzf', archive, '-C', dir]);
  // Only Node on PATH, nothing of this repository's environment.
  provider = await startProvider(join(dir, 'pulumi-resource-roster'), [], {
    cwd: dir,
    env: { PATH: dirname(process.execPath), HOME: dir },
  });
}, 120_000);

afterAll(async () => {
  await provider?.stop();
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
});

describe('the packaged provider', () => {
  it('is named as Pulumi plugin archives are, and holds what runs without node_modules', () => {
    expect(archive).toMatch(/pulumi-resource-roster-v\d+\.\d+\.\d+-linux-(amd64|arm64)\.tar\.gz$/);
    expect(readdirSync(dir).sort()).toEqual([
      'migrations',
      'package.json',
      'provider.mjs',
      'provider.mjs.LEGAL.txt',
      'pulumi-resource-roster',
      'schema.json',
    ]);
  });

  it('serves the engine from an empty directory: plugin info, schema, configure, create', async () => {
    const info = await rpc<emptyPb.Empty, { getVersion(): string }>(
      'getPluginInfo',
      new emptyPb.Empty(),
    );
    expect(info.getVersion()).toMatch(/^\d+\.\d+\.\d+/);
    const schema = await rpc<providerPb.GetSchemaRequest, providerPb.GetSchemaResponse>(
      'getSchema',
      new providerPb.GetSchemaRequest(),
    );
    expect(JSON.parse(schema.getSchema()).name).toBe('roster');
    await rpc(
      'configure',
      new providerPb.ConfigureRequest()
        .setArgs(toStruct({ databaseUrl: db.url } as Properties))
        .setAcceptsecrets(true),
    );
    const urn = (type: string, name: string) => `urn:pulumi:dev::p::roster:index:${type}::${name}`;
    for (const [type, name, inputs] of [
      ['Plan', 'solo', { name: 'solo', seats: { paid: 1 } }],
      ['Organization', 'solo-org', { name: 'solo-org', plan: 'solo', owner: 'o@solo.io' }],
    ] as const) {
      const checked = await rpc<providerPb.CheckRequest, providerPb.CheckResponse>(
        'check',
        new providerPb.CheckRequest()
          .setUrn(urn(type, name))
          .setNews(toStruct(inputs as Properties)),
      );
      expect(checked.getFailuresList()).toEqual([]);
      await rpc(
        'create',
        new providerPb.CreateRequest().setUrn(urn(type, name)).setProperties(checked.getInputs()),
      );
    }
    // The bundled provider found its migrations beside it (the database is up to date), then wrote.
    const { rows } = await db.pool.query(
      `SELECT o.name, u.email FROM organizations o JOIN memberships m USING (org_id) JOIN users u USING (user_id)`,
    );
    expect(rows).toEqual([{ name: 'solo-org', email: 'o@solo.io' }]);
  });
});
