/**
 * pulumi-resource-roster driven over gRPC exactly as the Pulumi engine drives it: the provider
 * process is started, its port read from stdout, and every RPC called with protobuf Structs
 * (secrets and unknowns included), against a real PostgreSQL.
 */
import * as grpc from '@grpc/grpc-js';
import providerPb from '@pulumi/pulumi/proto/provider_pb.js';
import emptyPb from 'google-protobuf/google/protobuf/empty_pb.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromStruct,
  SECRET_SIGNATURE,
  SIGNATURE_KEY,
  toStruct,
  UNKNOWN,
  type Properties,
} from '../src/provider/properties.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { APPLY_LOCK } from '../src/store/apply.js';
import { startProvider, type ProviderProcess } from './support/provider-process.js';
import { freePort } from '../src/store/scratch-postgres.js';
import { ROOT } from './support/run-roster.js';

let db: TestDatabase;
let provider: ProviderProcess;

const urn = (type: string, name: string) =>
  `urn:pulumi:dev::onboarding::roster:index:${type}::${name}`;
const secret = (value: unknown) => ({ [SIGNATURE_KEY]: SECRET_SIGNATURE, value });

const rpc = <Req, Res>(method: string, request: Req) => provider.rpc<Req, Res>(method, request);

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startProvider(process.execPath, [`${ROOT}provider/bin/pulumi-resource-roster`], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '' },
  });
  // Given as a failover cluster's host list whose first host is down: the provider connects to
  // the host that answers and accepts writes (target_session_attrs=read-write), as libpq would.
  const url = new URL(db.url);
  const cluster = `postgresql://${url.username}:${url.password}@127.0.0.1:${await freePort()},${url.host}${url.pathname}?target_session_attrs=read-write`;
  const args = toStruct({
    databaseUrl: secret(cluster),
    publicUrl: 'https://access.example.com',
  } as Properties);
  const configured = await rpc<providerPb.ConfigureRequest, providerPb.ConfigureResponse>(
    'configure',
    new providerPb.ConfigureRequest().setArgs(args).setAcceptsecrets(true).setAcceptresources(true),
  );
  expect(configured.getAcceptsecrets()).toBe(true);
});

afterAll(async () => {
  await provider?.stop();
  await db.drop();
});

async function check(type: string, news: Properties) {
  const response = await rpc<providerPb.CheckRequest, providerPb.CheckResponse>(
    'check',
    new providerPb.CheckRequest().setUrn(urn(type, 'x')).setNews(toStruct(news)),
  );
  return {
    inputs: fromStruct(response.getInputs()),
    failures: response
      .getFailuresList()
      .map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
  };
}
async function create(type: string, name: string, properties: Properties, preview = false) {
  const checked = await check(type, properties);
  expect(checked.failures).toEqual([]);
  const response = await rpc<providerPb.CreateRequest, providerPb.CreateResponse>(
    'create',
    new providerPb.CreateRequest()
      .setUrn(urn(type, name))
      .setProperties(toStruct(checked.inputs))
      .setPreview(preview),
  );
  return {
    id: response.getId(),
    outputs: fromStruct(response.getProperties()),
    inputs: checked.inputs,
  };
}
async function diff(type: string, name: string, olds: Properties, news: Properties) {
  const response = await rpc<providerPb.DiffRequest, providerPb.DiffResponse>(
    'diff',
    new providerPb.DiffRequest()
      .setUrn(urn(type, name))
      .setOlds(toStruct(olds))
      .setOldInputs(toStruct(olds))
      .setNews(toStruct(news)),
  );
  const detailed: Record<string, number> = {};
  response.getDetaileddiffMap().forEach((v, k) => (detailed[k] = v.getKind()));
  return {
    changes: response.getChanges(),
    diffs: response.getDiffsList(),
    replaces: response.getReplacesList(),
    detailed,
  };
}
async function update(type: string, name: string, id: string, olds: Properties, news: Properties) {
  const response = await rpc<providerPb.UpdateRequest, providerPb.UpdateResponse>(
    'update',
    new providerPb.UpdateRequest()
      .setUrn(urn(type, name))
      .setId(id)
      .setOlds(toStruct(olds))
      .setOldInputs(toStruct(olds))
      .setNews(toStruct(news)),
  );
  return fromStruct(response.getProperties());
}
async function read(type: string, name: string, id: string, inputs: Properties) {
  const response = await rpc<providerPb.ReadRequest, providerPb.ReadResponse>(
    'read',
    new providerPb.ReadRequest()
      .setUrn(urn(type, name))
      .setId(id)
      .setInputs(toStruct(inputs))
      .setProperties(toStruct(inputs)),
  );
  return {
    id: response.getId(),
    inputs: fromStruct(response.getInputs()),
    properties: fromStruct(response.getProperties()),
  };
}
async function remove(type: string, name: string, id: string, inputs: Properties) {
  await rpc<providerPb.DeleteRequest, emptyPb.Empty>(
    'delete',
    new providerPb.DeleteRequest()
      .setUrn(urn(type, name))
      .setId(id)
      .setProperties(toStruct(inputs))
      .setOldInputs(toStruct(inputs)),
  );
}
const q = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows;
const DIFF_NONE = providerPb.DiffResponse.DiffChanges.DIFF_NONE;
const DIFF_SOME = providerPb.DiffResponse.DiffChanges.DIFF_SOME;

describe('pulumi-resource-roster over gRPC', () => {
  it('tells its version and serves the schema generated from the JSON Schemas', async () => {
    const info = await rpc<emptyPb.Empty, { getVersion(): string }>(
      'getPluginInfo',
      new emptyPb.Empty(),
    );
    expect(info.getVersion()).toMatch(/^\d+\.\d+\.\d+$/);
    const schema = JSON.parse(
      (
        await rpc<providerPb.GetSchemaRequest, providerPb.GetSchemaResponse>(
          'getSchema',
          new providerPb.GetSchemaRequest(),
        )
      ).getSchema(),
    );
    expect(Object.keys(schema.resources)).toEqual([
      'roster:index:Plan',
      'roster:index:Role',
      'roster:index:User',
      'roster:index:Organization',
      'roster:index:Membership',
      'roster:index:Grant',
      'roster:index:Group',
      'roster:index:Delegation',
      'roster:index:Contact',
    ]);
    expect(schema.config.variables.databaseUrl.secret).toBe(true);
  });

  it('checks inputs with the messages of roster validate, leaving unknowns alone', async () => {
    const owner = await check('Membership', {
      org: 'acme',
      user: 'bob@acme.io',
      role: 'owner',
      suspend: true,
    });
    expect(owner.failures).toEqual([
      {
        property: 'suspend',
        reason:
          'spec: unknown field "suspend". Did you mean "suspended"? Allowed: org, user, role, seat, suspended',
      },
    ]);
    const rules = await check('Membership', { org: 'acme', user: 'bob@acme.io', role: 'owner' });
    expect(rules.failures).toEqual([
      {
        property: 'role',
        reason:
          'owner is not a membership role: the owner is spec.owner of Organization "acme"; to make bob@acme.io the owner, set it there (an ownership transfer)',
      },
    ]);
    const email = await check('Contact', {
      org: 'acme',
      email: 'andré@x.io',
      categories: ['billing'],
    });
    expect(email.failures[0]?.property).toBe('email');
    const preview = await check('Membership', { org: UNKNOWN, user: 'bob@acme.io', role: UNKNOWN });
    expect(preview.failures).toEqual([]);
    expect(preview.inputs).toMatchObject({
      org: UNKNOWN,
      role: UNKNOWN,
      seat: 'paid',
      suspended: false,
    });
    const members = await check('Organization', { name: 'x', owner: 'a@x.io', members: [] });
    expect(members.failures[0]?.reason).toContain('declare roster.Membership resources instead');
  });

  it('creates nothing during preview, and reports outputs as unknown', async () => {
    const preview = await create('Plan', 'preview', { name: 'preview', seats: { paid: 1 } }, true);
    expect(preview.id).toBe('');
    expect(await q(`SELECT name FROM plans WHERE name = 'preview'`)).toEqual([]);
    const member = await rpc<providerPb.CreateRequest, providerPb.CreateResponse>(
      'create',
      new providerPb.CreateRequest()
        .setUrn(urn('Membership', 'p'))
        .setProperties(toStruct({ org: 'acme', user: 'x@acme.io', role: UNKNOWN }))
        .setPreview(true),
    );
    expect(fromStruct(member.getProperties())).toMatchObject({
      status: UNKNOWN,
      invitationState: UNKNOWN,
    });
  });

  it('runs create -> diff -> update -> read (drift) -> delete for every resource type', async () => {
    // Plan.
    const plan = await create('Plan', 'pro', {
      name: 'pro',
      seats: { paid: 3 },
      features: ['members', 'resourceGrants', 'customRoles'],
    });
    expect(plan.id).toBe('pro');
    expect(await q(`SELECT paid_seats, managed_by FROM plans`)).toEqual([
      { paid_seats: 3, managed_by: 'pulumi:onboarding/dev' },
    ]);
    expect((await diff('Plan', 'pro', plan.inputs, plan.inputs)).changes).toBe(DIFF_NONE);
    const planNews = { ...plan.inputs, seats: { paid: 4, free: 0 } };
    expect(await diff('Plan', 'pro', plan.inputs, planNews)).toMatchObject({
      changes: DIFF_SOME,
      diffs: ['seats'],
      replaces: [],
    });
    await update('Plan', 'pro', 'pro', plan.inputs, planNews);
    expect(await q(`SELECT paid_seats FROM plans`)).toEqual([{ paid_seats: 4 }]);
    await q(`UPDATE plans SET paid_seats = 9`);
    expect((await read('Plan', 'pro', 'pro', planNews)).inputs).toMatchObject({
      seats: { paid: 9, free: 0 },
    });
    await q(`UPDATE plans SET paid_seats = 4`);

    // Role.
    const role = await create('Role', 'auditor', {
      name: 'auditor',
      scope: 'organization',
      permissions: ['billing.view'],
    });
    const roleNews = { ...role.inputs, permissions: ['billing.view', 'members.view'] };
    // A scope change keeps the role's identity: in place (the planner refuses it while in use).
    expect(
      await diff('Role', 'auditor', role.inputs, { ...role.inputs, scope: 'resource' }),
    ).toMatchObject({ replaces: [], diffs: ['scope'] });
    await update('Role', 'auditor', 'auditor', role.inputs, roleNews);
    expect(await q(`SELECT permission FROM role_permissions ORDER BY 1`)).toEqual([
      { permission: 'billing.view' },
      { permission: 'members.view' },
    ]);
    await q(`INSERT INTO role_permissions VALUES ('auditor', 'support.tickets')`);
    expect((await read('Role', 'auditor', 'auditor', roleNews)).inputs.permissions).toEqual([
      'billing.view',
      'members.view',
      'support.tickets',
    ]);
    await q(`DELETE FROM role_permissions WHERE permission = 'support.tickets'`);

    // Organization.
    const org = await create('Organization', 'acme', {
      name: 'acme',
      plan: 'pro',
      owner: 'Alice@Acme.io',
      resources: [{ type: 'site', name: 'www' }],
    });
    expect(org.id).toBe('acme');
    expect(
      await q(`SELECT u.email, m.role FROM memberships m JOIN users u USING (user_id)`),
    ).toEqual([{ email: 'alice@acme.io', role: 'owner' }]);
    const orgNews = {
      ...org.inputs,
      displayName: 'Acme',
      resources: [
        { type: 'site', name: 'www' },
        { type: 'site', name: 'shop' },
      ],
    };
    expect((await diff('Organization', 'acme', org.inputs, orgNews)).detailed).toEqual({
      displayName: providerPb.PropertyDiff.Kind.ADD,
      resources: providerPb.PropertyDiff.Kind.UPDATE,
    });
    await update('Organization', 'acme', 'acme', org.inputs, orgNews);
    expect(await q(`SELECT display_name FROM organizations`)).toEqual([{ display_name: 'Acme' }]);
    expect(await q(`SELECT name FROM resources ORDER BY 1`)).toEqual([
      { name: 'shop' },
      { name: 'www' },
    ]);
    await q(`UPDATE organizations SET display_name = 'Renamed in the app'`);
    const orgRead = await read('Organization', 'acme', 'acme', orgNews);
    expect(orgRead.inputs).toMatchObject({
      displayName: 'Renamed in the app',
      owner: 'Alice@Acme.io',
    });
    await q(`UPDATE organizations SET display_name = 'Acme'`);

    // Membership.
    const member = await create('Membership', 'bob', {
      org: 'acme',
      user: 'bob@acme.io',
      role: 'developer',
    });
    expect(member.id).toBe('acme/bob@acme.io');
    expect(member.outputs).toMatchObject({ status: 'invited', invitationState: 'Pending' });
    expect((await diff('Membership', 'bob', member.inputs, member.inputs)).changes).toBe(DIFF_NONE);
    expect(
      await diff('Membership', 'bob', member.inputs, { ...member.inputs, user: 'carol@acme.io' }),
    ).toMatchObject({
      replaces: ['user'],
      detailed: { user: providerPb.PropertyDiff.Kind.UPDATE_REPLACE },
    });
    const memberNews = { ...member.inputs, role: 'auditor' };
    const updated = await update('Membership', 'bob', member.id, member.inputs, memberNews);
    expect(updated).toMatchObject({ role: 'auditor', invitationState: 'Pending' });
    expect(await q(`SELECT count(*)::int AS n FROM invitations WHERE status = 'revoked'`)).toEqual([
      { n: 1 },
    ]);
    await q(`UPDATE memberships SET role = 'billing' WHERE role = 'auditor'`);
    expect((await read('Membership', 'bob', member.id, memberNews)).inputs).toMatchObject({
      role: 'billing',
    });
    await q(`UPDATE memberships SET role = 'auditor' WHERE role = 'billing'`);

    // Grant.
    const grant = await create('Grant', 'dev', {
      org: 'acme',
      user: 'dev@freelance.io',
      resource: 'site/www',
      role: 'resource-developer',
      expires: '2031-01-31',
    });
    expect(grant.id).toBe('acme/dev@freelance.io/site/www');
    expect(grant.outputs).toMatchObject({ status: 'invited', invitationState: 'Pending' });
    // Another grant of the same person on another site has an invitation of its own.
    const shop = await create('Grant', 'dev-shop', {
      org: 'acme',
      user: 'DEV@freelance.io',
      resource: 'site/shop',
      role: 'resource-developer',
    });
    await q(`UPDATE invitations SET status = 'accepted' WHERE resource_name = 'shop'`);
    expect((await read('Grant', 'dev', grant.id, grant.inputs)).properties).toMatchObject({
      invitationState: 'Pending',
    });
    expect((await read('Grant', 'dev-shop', shop.id, shop.inputs)).properties).toMatchObject({
      invitationState: 'Accepted',
    });
    await remove('Grant', 'dev-shop', shop.id, shop.inputs);
    const grantNews = { ...grant.inputs, role: 'resource-administrator' };
    await update('Grant', 'dev', grant.id, grant.inputs, grantNews);
    expect(await q(`SELECT role, expires_at FROM grants`)).toEqual([
      { role: 'resource-administrator', expires_at: new Date('2031-02-01T00:00:00Z') },
    ]);
    expect((await read('Grant', 'dev', grant.id, grantNews)).inputs).toMatchObject({
      expires: '2031-01-31',
    });
    await q(`UPDATE grants SET expires_at = '2030-01-01T00:00:00Z'`);
    expect((await read('Grant', 'dev', grant.id, grantNews)).inputs).toMatchObject({
      expires: '2030-01-01T00:00:00.000Z',
    });

    // Contact, with a secret input that stays secret.
    const contact = await rpc<providerPb.CreateRequest, providerPb.CreateResponse>(
      'create',
      new providerPb.CreateRequest().setUrn(urn('Contact', 'ap')).setProperties(
        toStruct({
          org: 'acme',
          email: 'ap@acme.io',
          name: secret('Accounts'),
          categories: ['billing'],
        } as Properties),
      ),
    );
    expect(contact.getId()).toBe('acme/ap@acme.io');
    expect(contact.getProperties()?.toJavaScript().name).toEqual(secret('Accounts'));
    const contactInputs = {
      org: 'acme',
      email: 'ap@acme.io',
      name: 'Accounts',
      categories: ['billing'],
    };
    const contactNews = { ...contactInputs, categories: ['billing', 'support'] };
    await update('Contact', 'ap', 'acme/ap@acme.io', contactInputs, contactNews);
    expect(await q(`SELECT categories FROM contacts`)).toEqual([
      { categories: ['billing', 'support'] },
    ]);
    await q(`UPDATE contacts SET name = 'Changed in the app'`);
    expect((await read('Contact', 'ap', 'acme/ap@acme.io', contactNews)).inputs).toMatchObject({
      name: 'Changed in the app',
    });

    // Deletes, in the order the engine would run them.
    await remove('Contact', 'ap', 'acme/ap@acme.io', contactNews);
    expect(await q(`SELECT * FROM contacts`)).toEqual([]);
    await remove('Grant', 'dev', grant.id, grantNews);
    expect(await q(`SELECT * FROM grants`)).toEqual([]);
    expect((await read('Grant', 'dev', grant.id, grantNews)).id).toBe('');
    await remove('Membership', 'bob', member.id, memberNews);
    expect(await q(`SELECT count(*)::int AS n FROM memberships`)).toEqual([{ n: 1 }]);
    await remove('Organization', 'acme', 'acme', orgNews);
    expect(await q(`SELECT * FROM organizations`)).toEqual([]);
    await remove('Role', 'auditor', 'auditor', roleNews);
    await remove('Plan', 'pro', 'pro', planNews);
    expect(
      await q(
        `SELECT (SELECT count(*) FROM plans)::int AS plans, (SELECT count(*) FROM roles)::int AS roles`,
      ),
    ).toEqual([{ plans: 0, roles: 0 }]);
  });

  it('applies the rules of the core: seats, last owner, other managers', async () => {
    await create('Plan', 'tiny', { name: 'tiny', seats: { paid: 2 }, features: ['members'] });
    await create('Organization', 'tinyco', { name: 'tinyco', plan: 'tiny', owner: 'o@tiny.co' });
    await create('Membership', 'm1', { org: 'tinyco', user: 'm1@tiny.co', role: 'developer' });
    await expect(
      create('Membership', 'm2', { org: 'tinyco', user: 'm2@tiny.co', role: 'developer' }),
    ).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining('would use 3 paid seats and plan "tiny" has 2'),
    });
    await expect(
      remove('Organization', 'tinyco', 'tinyco', {
        name: 'tinyco',
        plan: 'tiny',
        owner: 'o@tiny.co',
      }),
    ).rejects.toMatchObject({
      details: expect.stringContaining('cannot be deleted while it still has members'),
    });
    await q(`UPDATE memberships SET managed_by = 'roster-cli' WHERE role = 'developer'`);
    await expect(
      update(
        'Membership',
        'm1',
        'tinyco/m1@tiny.co',
        { org: 'tinyco', user: 'm1@tiny.co', role: 'developer' },
        { org: 'tinyco', user: 'm1@tiny.co', role: 'billing', seat: 'paid', suspended: false },
      ),
    ).rejects.toMatchObject({
      details: expect.stringContaining('is managed by roster-cli; Roster will not take it over'),
    });
  });

  it('creates a role of one organization, recorded with it', async () => {
    const role = await create('Role', 'tiny-intern', {
      name: 'tiny-intern',
      org: 'tinyco',
      scope: 'organization',
      permissions: ['members.view'],
    });
    expect(role.id).toBe('tiny-intern');
    expect(await q(`SELECT org FROM roles WHERE name = 'tiny-intern'`)).toEqual([
      { org: 'tinyco' },
    ]);
    expect((await read('Role', 'tiny-intern', 'tiny-intern', role.inputs)).inputs.org).toBe(
      'tinyco',
    );
  });

  it('creates a User; a Membership naming its alias is that person, read back as written', async () => {
    const user = await create('User', 'm3', { email: 'm3@tiny.co', aliases: ['Third@Tiny.co'] });
    expect(user.id).toBe('m3@tiny.co');
    expect(await q(`SELECT alias FROM user_aliases`)).toEqual([{ alias: 'third@tiny.co' }]);
    // A seat for the person (plan tiny has 2: the owner's and one).
    await q(
      `DELETE FROM memberships WHERE user_id IN (SELECT user_id FROM users WHERE email = 'm1@tiny.co')`,
    );
    const member = await create('Membership', 'third', {
      org: 'tinyco',
      user: 'third@tiny.co',
      role: 'developer',
    });
    expect(member.id).toBe('tinyco/third@tiny.co');
    expect(member.outputs.status).toBe('invited');
    expect(
      await q(
        `SELECT u.email FROM memberships m JOIN users u USING (user_id) JOIN organizations o USING (org_id)
          WHERE o.name = 'tinyco' AND m.role = 'developer' ORDER BY u.email`,
      ),
    ).toEqual([{ email: 'm3@tiny.co' }]);
    // Read keeps the program's address (no perpetual diff), and delete removes the person's record.
    const back = await read('Membership', 'third', member.id, member.inputs);
    expect(back.inputs).toMatchObject({ user: 'third@tiny.co', role: 'developer' });
    expect((await diff('Membership', 'third', member.inputs, back.inputs)).changes).toBe(DIFF_NONE);
    await remove('Membership', 'third', member.id, member.inputs);
    expect(
      await q(
        `SELECT count(*)::int AS n FROM memberships WHERE user_id IN (SELECT user_id FROM users WHERE email = 'm3@tiny.co')`,
      ),
    ).toEqual([{ n: 0 }]);
    await remove('User', 'm3', user.id, user.inputs);
    expect(await q(`SELECT count(*)::int AS n FROM user_aliases`)).toEqual([{ n: 0 }]);
  });

  it('creates a Group of an organization, read back and deleted by its id', async () => {
    await q(
      `DELETE FROM memberships WHERE role = 'developer'
          AND org_id = (SELECT org_id FROM organizations WHERE name = 'tinyco')`,
    );
    const group = await create('Group', 'tiny-ops', {
      name: 'ops',
      org: 'tinyco',
      role: 'developer',
      members: ['Ops@Tiny.co'],
    });
    expect(group.id).toBe('tinyco/ops');
    expect(
      await q(
        `SELECT g.role, u.email, gm.status FROM groups g JOIN group_members gm ON gm.org_id = g.org_id AND gm.group_name = g.name
           JOIN users u USING (user_id)`,
      ),
    ).toEqual([{ role: 'developer', email: 'ops@tiny.co', status: 'invited' }]);
    const back = await read('Group', 'tiny-ops', group.id, group.inputs);
    expect(back.inputs).toMatchObject({ name: 'ops', org: 'tinyco', role: 'developer' });
    expect(await diff('Group', 'tiny-ops', group.inputs, back.inputs)).toMatchObject({ diffs: [] });
    await remove('Group', 'tiny-ops', group.id, group.inputs);
    expect(await q(`SELECT count(*)::int AS n FROM groups`)).toEqual([{ n: 0 }]);
  });

  it('creates a Delegation on a plan with the feature, refused for a delegate who is not an administrator', async () => {
    await create('Plan', 'deleg', {
      name: 'deleg',
      seats: { paid: 5 },
      features: ['members', 'delegation'],
    });
    await create('Organization', 'delegco', {
      name: 'delegco',
      plan: 'deleg',
      owner: 'o@deleg.co',
    });
    await create('Membership', 'deleg-a', {
      org: 'delegco',
      user: 'a@deleg.co',
      role: 'administrator',
    });
    await create('Membership', 'deleg-m', {
      org: 'delegco',
      user: 'm@deleg.co',
      role: 'developer',
    });
    const expires = new Date(Date.now() + 5 * 86_400_000).toISOString();
    const inputs = {
      name: 'a-for-m',
      org: 'delegco',
      delegate: 'a@deleg.co',
      onBehalfOf: 'm@deleg.co',
      expires,
      reason: 'cover',
    };
    await expect(
      create('Delegation', 'm-for-a', {
        ...inputs,
        name: 'm-for-a',
        delegate: 'm@deleg.co',
        onBehalfOf: 'a@deleg.co',
      }),
    ).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      details: expect.stringContaining(
        'm@deleg.co is developer of "delegco"; a delegate must be its owner or hold members.manage',
      ),
    });
    const created = await create('Delegation', 'a-for-m', inputs);
    expect(created.id).toBe('delegco/a-for-m');
    expect(
      await q(`SELECT name, expires_at = $1::timestamptz AS same FROM delegations`, [expires]),
    ).toEqual([{ name: 'a-for-m', same: true }]);
    const back = await read('Delegation', 'a-for-m', created.id, created.inputs);
    expect(back.inputs).toMatchObject({ delegate: 'a@deleg.co', onBehalfOf: 'm@deleg.co' });
    expect(await diff('Delegation', 'a-for-m', created.inputs, back.inputs)).toMatchObject({
      diffs: [],
    });
    await remove('Delegation', 'a-for-m', created.id, created.inputs);
    expect(await q(`SELECT count(*)::int AS n FROM delegations`)).toEqual([{ n: 0 }]);
  });

  it('imports an existing record by id (pulumi import)', async () => {
    const imported = await rpc<providerPb.ReadRequest, providerPb.ReadResponse>(
      'read',
      new providerPb.ReadRequest().setUrn(urn('Organization', 'tinyco')).setId('tinyco'),
    );
    expect(imported.getId()).toBe('tinyco');
    expect(fromStruct(imported.getInputs())).toEqual({
      name: 'tinyco',
      plan: 'tiny',
      owner: 'o@tiny.co',
    });
  });
});

describe('the provider as the engine drives a whole stack', () => {
  const members = Array.from({ length: 12 }, (_, i) => `m${i}@par.io`);

  it('creates, updates and deletes sibling resources in parallel, as the engine does', async () => {
    await create('Plan', 'par-plan', {
      name: 'par-plan',
      seats: { paid: 30, free: 0 },
      features: ['members', 'resourceGrants'],
    });
    await create('Organization', 'par', { name: 'par', plan: 'par-plan', owner: 'o@par.io' });
    // The engine checks every sibling, then creates them all at once.
    const created = await Promise.all(
      members.map((user, i) =>
        create('Membership', `m${i}`, { org: 'par', user, role: 'developer' }),
      ),
    );
    expect(created.map((c) => c.id)).toEqual(members.map((user) => `par/${user}`));
    const roles = async () =>
      (
        await q(
          `SELECT u.email, m.role FROM memberships m JOIN users u USING (user_id)
             JOIN organizations o USING (org_id) WHERE o.name = 'par' AND m.role <> 'owner' ORDER BY 1`,
        )
      ).map((r) => `${r.email}:${r.role}`);
    expect(await roles()).toEqual(members.map((u) => `${u}:developer`).sort());
    await Promise.all(
      created.map((c, i) =>
        update('Membership', `m${i}`, c.id, c.inputs, { ...c.inputs, role: 'billing' }),
      ),
    );
    expect(await roles()).toEqual(members.map((u) => `${u}:billing`).sort());
    await Promise.all(
      created
        .slice(0, 3)
        .map((c, i) => remove('Membership', `m${i}`, c.id, { ...c.inputs, role: 'billing' })),
    );
    expect(await roles()).toHaveLength(9);
  });

  it('updates in place a change that keeps the identity, instead of a replace that deletes it', async () => {
    const carol = await create('Membership', 'carol', {
      org: 'par',
      user: 'Carol@Par.io',
      role: 'developer',
    });
    const renamed = { ...carol.inputs, user: 'carol@par.io' };
    const spelling = await diff('Membership', 'carol', carol.inputs, renamed);
    expect(spelling.changes).toBe(providerPb.DiffResponse.DiffChanges.DIFF_SOME);
    expect(spelling.replaces).toEqual([]);
    expect(spelling.detailed).toEqual({ user: providerPb.PropertyDiff.Kind.UPDATE });
    await update('Membership', 'carol', carol.id, carol.inputs, renamed);
    expect(
      await q(`SELECT count(*)::int AS n FROM memberships m JOIN users u USING (user_id)
                WHERE u.email = 'carol@par.io'`),
    ).toEqual([{ n: 1 }]);
    // A new person is a new identity: that is a replacement.
    const other = await diff('Membership', 'carol', carol.inputs, {
      ...renamed,
      user: 'dan@par.io',
    });
    expect(other.replaces).toEqual(['user']);

    const role = await create('Role', 'par-role', {
      name: 'par-role',
      scope: 'organization',
      permissions: ['billing.view'],
    });
    const rescoped = await diff('Role', 'par-role', role.inputs, {
      ...role.inputs,
      scope: 'resource',
      permissions: ['resource.view'],
    });
    expect(rescoped.replaces).toEqual([]);
  });

  it('keeps secret inputs secret through Check', async () => {
    const response = await rpc<providerPb.CheckRequest, providerPb.CheckResponse>(
      'check',
      new providerPb.CheckRequest().setUrn(urn('Contact', 'ap')).setNews(
        toStruct({
          org: 'par',
          email: 'ap@par.io',
          name: secret('Accounts Payable'),
          categories: ['billing'],
        } as Properties),
      ),
    );
    expect(response.getFailuresList()).toEqual([]);
    const inputs = response.getInputs()?.toJavaScript() as Record<string, unknown>;
    expect(inputs.name).toEqual(secret('Accounts Payable'));
    expect(inputs.email).toBe('ap@par.io');
  });
});

describe('a cancelled stack operation', () => {
  it('aborts the apply waiting for the lock, writes nothing, and refuses what comes after', async () => {
    // Another apply (the CLI, another stack) holds the database's apply lock.
    const holder = await db.pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1, $2)', [...APPLY_LOCK]);
    try {
      const waiting = create('Plan', 'cancelled', { name: 'cancelled', seats: { paid: 1 } });
      const outcome = waiting.then(
        () => 'created',
        (error: { details?: string }) => error.details ?? String(error),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      await rpc('cancel', new emptyPb.Empty());
      expect(await outcome).toContain('the apply was cancelled; nothing was written');
      expect(Date.now() - started).toBeLessThan(5_000);
      const later = await create('Plan', 'later', { name: 'later', seats: { paid: 1 } }).then(
        () => 'created',
        (error: { details?: string }) => error.details ?? String(error),
      );
      expect(later).toContain('the operation was cancelled before it started');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    expect(await q(`SELECT name FROM plans WHERE name IN ('cancelled', 'later')`)).toEqual([]);
  });
});
