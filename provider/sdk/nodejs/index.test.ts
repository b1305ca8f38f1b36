import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';
import { SECRET_SIGNATURE, SIGNATURE_KEY } from '../../../src/provider/properties.js';
import * as roster from './index.js';

let lastInputs: Record<string, unknown> = {};
beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        lastInputs = args.inputs;
        return {
          id: `${args.type}/${args.name}`,
          state: { ...args.inputs, status: 'active', invitationState: 'Accepted' },
        };
      },
      call: () => ({}),
    },
    'project',
    'stack',
    false,
  );
});

const resolve = <T>(output: pulumi.Output<T>) => new Promise<T>((done) => output.apply(done));

describe('the SDK', () => {
  it('creates resources with their type tokens, typed inputs and computed outputs', async () => {
    const bob = new roster.Membership('bob', {
      org: 'acme',
      user: 'bob@acme.io',
      role: 'developer',
      seat: 'free',
    });
    expect(await resolve(bob.urn)).toBe('urn:pulumi:stack::project::roster:index:Membership::bob');
    expect(await resolve(bob.role)).toBe('developer');
    expect(await resolve(bob.status)).toBe('active');
    expect(await resolve(bob.invitationState)).toBe('Accepted');
    expect(lastInputs).toEqual({
      org: 'acme',
      user: 'bob@acme.io',
      role: 'developer',
      seat: 'free',
    });
  });

  it('keeps the provider database URL secret', async () => {
    const provider = new roster.Provider('db', { databaseUrl: 'postgresql://u:p@db/roster' });
    expect(await resolve(provider.urn)).toContain('pulumi:providers:roster::db');
    // The engine receives the URL marked secret: it is encrypted in state and masked in output.
    expect(lastInputs.databaseUrl).toEqual({
      [SIGNATURE_KEY]: SECRET_SIGNATURE,
      value: 'postgresql://u:p@db/roster',
    });
  });
});
