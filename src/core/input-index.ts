/**
 * The index of an input, for incremental plans: which file declares which organizations, plans,
 * roles and documents, and what each organization was planned from (the files that declare it,
 * with their content's fingerprint, and the plans and roles it uses, with theirs). An apply
 * records it; the next plan re-reads only the files whose fingerprint changed and re-plans only
 * the organizations whose inputs (or database rows) changed. Pure.
 */
import { createHash } from 'node:crypto';
import type { Finding } from './findings.js';
import { KIND_TABLE } from './kinds/index.js';
import type { DesiredState, SourceRef } from './model.js';

/** What one file declared when it was last applied. */
export interface IndexedFile {
  /** As shown and recorded: relative to the working directory, as typed (`tenants/acme.yaml`). */
  readonly path: string;
  /** SHA-256 of the file's content, hex. */
  readonly sha256: string;
  /** Organizations it declares records of (its own organization documents, members, ...). */
  readonly organizations: readonly string[];
  readonly plans: readonly string[];
  readonly roles: readonly string[];
  /** Its documents, as `Kind/namespace/name` (names are unique across the input). */
  readonly documents: readonly string[];
  /** Warnings it had: a file with warnings is always read again, so that they are shown. */
  readonly warnings: number;
}

/** What one organization was planned from. */
export interface OrganizationInput {
  readonly name: string;
  /** The plans and custom roles it uses, as `plan:NAME` and `role:NAME`, sorted. */
  readonly uses: readonly string[];
  /** `inputDigest` of its files and of what it uses. */
  readonly digest: string;
}

/** The key a document is indexed under: `Kind/namespace/name`. */
export function documentName(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { kind, metadata } = value as { kind?: unknown; metadata?: unknown };
  if (typeof kind !== 'string' || metadata === null || typeof metadata !== 'object') {
    return undefined;
  }
  const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
  if (typeof name !== 'string') return undefined;
  return `${kind}/${typeof namespace === 'string' ? namespace : ''}/${name}`;
}

/** The fingerprint of every plan and custom role the input declares, by `plan:NAME`/`role:NAME`. */
export function catalogDigests(state: DesiredState): Map<string, string> {
  const digests = new Map<string, string>();
  for (const kind of ['plan', 'role'] as const) {
    for (const record of KIND_TABLE[kind].desired(state)) {
      const id = record.id as { name: string };
      digests.set(`${kind}:${id.name}`, sha256(JSON.stringify(record.fields)));
    }
  }
  return digests;
}

/**
 * What an organization's plan depends on, besides its rows in the database: the files declaring
 * it (path and content fingerprint) and the plans and roles it uses (by content fingerprint; a
 * missing one counts as such). Equal digests mean the same records and the same rules.
 */
export function inputDigest(
  files: readonly { readonly path: string; readonly sha256: string }[],
  uses: readonly string[],
  catalog: ReadonlyMap<string, string>,
): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    hash.update(`file\u0000${file.path}\u0000${file.sha256}\n`);
  }
  for (const use of uses) hash.update(`use\u0000${use}\u0000${catalog.get(use) ?? 'absent'}\n`);
  return hash.digest('hex');
}

/**
 * Indexes a loaded input: each file's declarations, and each organization's inputs. `shaOf` gives
 * each loaded file's fingerprint; `findings` are the load's (their warnings are counted per file).
 */
export function indexInput(
  state: DesiredState,
  findings: readonly Finding[],
  shaOf: ReadonlyMap<string, string>,
): { files: IndexedFile[]; organizations: OrganizationInput[] } {
  const entries = new Map<
    string,
    {
      organizations: Set<string>;
      plans: Set<string>;
      roles: Set<string>;
      documents: Set<string>;
      warnings: number;
    }
  >();
  const entry = (file: string) => {
    let found = entries.get(file);
    if (found === undefined) {
      found = {
        organizations: new Set(),
        plans: new Set(),
        roles: new Set(),
        documents: new Set(),
        warnings: 0,
      };
      entries.set(file, found);
    }
    return found;
  };
  const seenDocuments = new Set<object>();
  const declared = (source: SourceRef | undefined) => {
    if (source === undefined) return undefined;
    const found = entry(source.document.file);
    if (!seenDocuments.has(source.document)) {
      seenDocuments.add(source.document);
      const name = documentName(source.document.value);
      if (name !== undefined) found.documents.add(name);
    }
    return found;
  };
  const filesOf = new Map<string, Set<string>>();
  const usesOf = new Map<string, Set<string>>();
  const inOrganization = (org: string, source: SourceRef) => {
    declared(source)?.organizations.add(org);
    let files = filesOf.get(org);
    if (files === undefined) filesOf.set(org, (files = new Set()));
    files.add(source.document.file);
  };
  const uses = (org: string, use: string) => {
    let set = usesOf.get(org);
    if (set === undefined) usesOf.set(org, (set = new Set()));
    set.add(use);
  };

  for (const plan of state.plans.values()) declared(plan.source)?.plans.add(plan.name);
  // A role of one organization the input declares is indexed with it (read when it is planned,
  // or when a record names it), not with the plans and roles every plan reads. One naming an
  // organization not read is read every time, so that the rules see whether it exists.
  for (const role of state.roles.values()) {
    if (role.org !== undefined && state.organizations.has(role.org)) {
      inOrganization(role.org, role.source);
    } else {
      declared(role.source)?.roles.add(role.name);
    }
  }
  // A file declaring Users is read by every plan (`declaresUsers`): its documents say so.
  for (const user of state.users.values()) declared(user.source);
  for (const org of state.organizations.values()) {
    inOrganization(org.name, org.source);
    for (const resource of org.resources) inOrganization(org.name, resource.source);
    if (org.plan !== undefined) uses(org.name, `plan:${org.plan}`);
  }
  for (const m of state.memberships) {
    inOrganization(m.org, m.source);
    if (state.roles.has(m.role)) uses(m.org, `role:${m.role}`);
  }
  for (const g of state.grants) {
    inOrganization(g.org, g.source);
    if (state.roles.has(g.role)) uses(g.org, `role:${g.role}`);
  }
  for (const g of state.groups) {
    inOrganization(g.org, g.source);
    for (const role of [g.role, ...g.grants.map((x) => x.role)]) {
      if (role !== undefined && state.roles.has(role)) uses(g.org, `role:${role}`);
    }
  }
  for (const d of state.delegations) inOrganization(d.org, d.source);
  for (const c of state.contacts) inOrganization(c.org, c.source);
  for (const finding of findings) {
    const file = finding.location?.file;
    if (finding.severity === 'warning' && file !== undefined && entries.has(file)) {
      entry(file).warnings++;
    }
  }

  const sorted = (set: ReadonlySet<string>) => [...set].sort();
  const files: IndexedFile[] = [];
  for (const [path, e] of entries) {
    const sha = shaOf.get(path);
    if (sha === undefined) continue; // standard input: not recorded
    files.push({
      path,
      sha256: sha,
      organizations: sorted(e.organizations),
      plans: sorted(e.plans),
      roles: sorted(e.roles),
      documents: sorted(e.documents),
      warnings: e.warnings,
    });
  }
  const catalog = catalogDigests(state);
  const organizations: OrganizationInput[] = [];
  for (const [name, paths] of filesOf) {
    const fingerprints = [...paths].map((path) => ({ path, sha256: shaOf.get(path) ?? 'stdin' }));
    const used = sorted(usesOf.get(name) ?? new Set());
    organizations.push({ name, uses: used, digest: inputDigest(fingerprints, used, catalog) });
  }
  return { files, organizations };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
