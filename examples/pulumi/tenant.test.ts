import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';

const created: { type: string; name: string; inputs: Record<string, unknown> }[] = [];

beforeAll(() => {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        const outputs =
          args.type === 'roster:index:Membership'
            ? { status: 'invited', invitationState: 'Pending', joinedAt: '' }
            : {};
        return { id: `${args.name}-id`, state: { ...args.inputs, ...outputs } };
      },
      call: () => ({}),
    },
    'roster-onboarding',
    'test',
    false,
  );
});

const resolve = <T>(output: pulumi.Output<T>) => new Promise<T>((done) => output.apply(done));

describe('the onboarding example', () => {
  it('declares the organization, its members and contacts, and exports invitation states', async () => {
    const program = await import('./index.js');
    expect(await resolve(program.organization)).toBe('northwind');
    expect(await resolve(program.invitationStates)).toEqual({
      'omar@northwind.example': 'Pending',
      'li@northwind.example': 'Pending',
    });
    expect(created.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      'roster:index:Contact northwind-ap@northwind.example',
      'roster:index:Membership northwind-li@northwind.example',
      'roster:index:Membership northwind-omar@northwind.example',
      'roster:index:Organization northwind',
      'roster:index:Plan growth',
    ]);
    const org = created.find((r) => r.type === 'roster:index:Organization');
    expect(org?.inputs).toMatchObject({
      name: 'northwind',
      plan: 'growth',
      owner: 'nadia@northwind.example',
      resources: [
        { type: 'site', name: 'shop' },
        { type: 'site', name: 'blog' },
      ],
    });
  });
});
