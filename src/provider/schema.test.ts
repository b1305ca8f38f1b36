import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pulumiSchema } from './schema.js';

describe('the Pulumi schema', () => {
  const schema = pulumiSchema() as {
    resources: Record<
      string,
      {
        inputProperties: Record<string, { type?: string; $ref?: string }>;
        requiredInputs: string[];
        properties: object;
      }
    >;
    types: Record<string, unknown>;
  };

  it('is checked in exactly as generated (run "npm run generate")', () => {
    const checkedIn = readFileSync(new URL('../../provider/schema.json', import.meta.url), 'utf8');
    expect(checkedIn).toBe(`${JSON.stringify(schema, null, 2)}\n`);
  });

  it('follows the JSON Schemas: required inputs, nested types, outputs', () => {
    expect(schema.resources['roster:index:Membership']?.requiredInputs).toEqual([
      'org',
      'user',
      'role',
    ]);
    expect(schema.resources['roster:index:Plan']?.inputProperties.seats).toMatchObject({
      $ref: '#/types/roster:index:PlanSeats',
    });
    expect(
      Object.keys(schema.resources['roster:index:Organization']?.inputProperties ?? {}),
    ).not.toContain('members');
    expect(Object.keys(schema.resources['roster:index:Grant']?.properties ?? {})).toEqual(
      expect.arrayContaining(['status', 'invitationState', 'expires']),
    );
    expect(Object.keys(schema.types).sort()).toEqual([
      'roster:index:Branding',
      'roster:index:GroupGrant',
      'roster:index:InvitationPolicy',
      'roster:index:OrganizationResource',
      'roster:index:PlanSeats',
    ]);
  });
});
