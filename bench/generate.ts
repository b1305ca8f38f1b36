/**
 * Synthetic tenants for the benchmarks: `orgs` organizations whose sizes follow a power law (a
 * few large, most small), `records` records split across memberships (70 %), grants (15 %) and
 * contacts (15 %), users shared across organizations, a handful of plans and custom roles.
 * Deterministic for a given size and seed. Written as YAML, one file per organization, in the
 * same format users write (members and contacts inline, grants as documents).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What to generate. */
export interface GenerateOptions {
  readonly records: number;
  readonly orgs: number;
  /** Share of memberships whose role changes (the "1 % change" variant). */
  readonly mutate?: number;
  readonly seed?: number;
}

/** A small deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sizes that add up to `total`, skewed: the i-th organization gets about 1/(i+10)^0.9 of it. */
function skewedSizes(total: number, count: number): number[] {
  const weights = Array.from({ length: count }, (_, i) => 1 / (i + 10) ** 0.9);
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((w / sum) * total)));
  let missing = total - sizes.reduce((a, b) => a + b, 0);
  for (let i = 0; missing > 0; i = (i + 1) % count, missing--) sizes[i] = (sizes[i] ?? 0) + 1;
  return sizes;
}

const ROLES = ['developer', 'developer', 'developer', 'administrator', 'billing', 'support-agent'];

/** Writes the tenants into `directory`; returns the number of records written. */
export async function generateTenants(
  directory: string,
  options: GenerateOptions,
): Promise<{ files: number; records: number }> {
  const rand = random(options.seed ?? 42);
  const mutateRand = random((options.seed ?? 42) + 1);
  await mkdir(directory, { recursive: true });
  await writeFile(
    join(directory, '_plans.yaml'),
    ['starter', 'team', 'business', 'enterprise']
      .map(
        (name) =>
          `apiVersion: roster.dev/v1alpha1\nkind: Plan\nmetadata: { name: ${name} }\nspec:\n  seats: { paid: 1000000, free: 1000 }\n  maxResources: 100\n  features: [members, resourceGrants, customRoles]\n`,
      )
      .join('---\n') +
      `---\napiVersion: roster.dev/v1alpha1\nkind: Role\nmetadata: { name: support-agent }\nspec:\n  scope: organization\n  permissions: [support.tickets, members.view]\n` +
      `---\napiVersion: roster.dev/v1alpha1\nkind: Role\nmetadata: { name: site-deployer }\nspec:\n  scope: resource\n  permissions: [resource.view, resource.deploy, resource.logs]\n`,
  );
  const sizes = skewedSizes(options.records - options.orgs, options.orgs);
  const userPool = Math.max(1000, Math.floor(options.records * 0.6));
  let written = 0;
  const batch: Promise<void>[] = [];
  for (let o = 0; o < options.orgs; o++) {
    const org = `tenant-${o}`;
    const size = sizes[o] ?? 1;
    const grants = Math.floor(size * 0.15);
    const contacts = Math.floor(size * 0.15);
    const members = size - grants - contacts;
    const sites = Math.min(20, 1 + Math.floor(size / 50));
    const used = new Set<number>();
    const pick = () => {
      for (;;) {
        const u = Math.floor(rand() * userPool);
        if (!used.has(u)) {
          used.add(u);
          return `user${u}@people${u % 97}.example`;
        }
      }
    };
    const lines: string[] = [
      'apiVersion: roster.dev/v1alpha1',
      'kind: Organization',
      `metadata: { name: ${org} }`,
      'spec:',
      `  displayName: Tenant ${o}`,
      `  plan: ${['starter', 'team', 'business', 'enterprise'][o % 4]}`,
      `  owner: ${pick()}`,
      `  resources: [${Array.from({ length: sites }, (_, s) => `{ type: site, name: site-${s} }`).join(', ')}]`,
    ];
    if (members > 0) lines.push('  members:');
    for (let m = 0; m < members; m++) {
      let role = ROLES[Math.floor(rand() * ROLES.length)] ?? 'developer';
      if (options.mutate !== undefined && mutateRand() < options.mutate) {
        role = role === 'developer' ? 'administrator' : 'developer';
      }
      const suspended = rand() < 0.02 ? ', suspended: true' : '';
      lines.push(`    - { user: ${pick()}, role: ${role}${suspended} }`);
    }
    if (contacts > 0) lines.push('  contacts:');
    for (let c = 0; c < contacts; c++) {
      lines.push(
        `    - { email: contact${c}@${org}.example, categories: [${rand() < 0.5 ? 'billing' : 'support, domains'}] }`,
      );
    }
    let text = `${lines.join('\n')}\n`;
    for (let g = 0; g < grants; g++) {
      const expires = rand() < 0.3 ? `, expires: '2031-0${1 + (g % 9)}-15'` : '';
      text += `---\napiVersion: roster.dev/v1alpha1\nkind: Grant\nmetadata: { name: ${org}-g${g} }\nspec: { org: ${org}, user: ${pick()}, resource: site/site-${g % sites}, role: ${g % 3 === 0 ? 'site-deployer' : 'resource-developer'}${expires} }\n`;
    }
    written += 1 + members + grants + contacts;
    batch.push(writeFile(join(directory, `${org}.yaml`), text));
    if (batch.length >= 64) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  return { files: options.orgs + 1, records: written };
}
