/**
 * Roster's custom resources as the operator sees them, and how each maps onto a work-queue key
 * and onto a document of Roster's format (the same format the CLI reads from files).
 */
import { API_GROUP, API_VERSION_NAME, KINDS, type Kind } from '../core/schema/index.js';

/** The finalizer that holds a resource until its records are removed (or released). */
export const FINALIZER = 'roster.dev/finalizer';
/** `"true"` pauses reconciling a resource (an Organization: its whole organization). */
export const PAUSE_ANNOTATION = 'roster.dev/paused';

export const GROUP = API_GROUP;
export const VERSION = API_VERSION_NAME;

/** A custom resource of one of Roster's kinds. */
export interface RosterObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    finalizers?: string[];
    deletionTimestamp?: Date | string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** Kinds whose records belong to an organization (reconciled by organization). */
export const ORG_KINDS = [
  'Organization',
  'Membership',
  'Grant',
  'Group',
  'Delegation',
  'Contact',
] as const;
/** Kinds of the catalog, shared by organizations (reconciled one by one). */
export const CATALOG_KINDS = ['Plan', 'Role', 'User'] as const;

export const pluralOf = (kind: Kind): string =>
  (KINDS.find((k) => k.kind === kind) as { plural: string }).plural;

export type DeletionPolicy = 'Delete' | 'Orphan';

export function deletionPolicyOf(o: RosterObject): DeletionPolicy {
  return o.spec?.deletionPolicy === 'Orphan' ? 'Orphan' : 'Delete';
}

export const isDeleting = (o: RosterObject): boolean => o.metadata.deletionTimestamp !== undefined;
export const isPaused = (o: RosterObject): boolean =>
  o.metadata.annotations?.[PAUSE_ANNOTATION] === 'true';
export const hasFinalizer = (o: RosterObject): boolean =>
  (o.metadata.finalizers ?? []).includes(FINALIZER);

/** A work-queue key: `namespace/Organization/name`, or a catalog kind's: `namespace/Role/name`. */
export interface WorkKey {
  readonly namespace: string;
  readonly kind: 'Organization' | (typeof CATALOG_KINDS)[number];
  readonly name: string;
}

export const formatKey = (k: WorkKey): string => `${k.namespace}/${k.kind}/${k.name}`;

export function parseKey(key: string): WorkKey {
  const [namespace = '', kind = '', ...rest] = key.split('/');
  return { namespace, kind: kind as WorkKey['kind'], name: rest.join('/') };
}

/** The key a resource is reconciled under; undefined when it names no organization. */
export function keyOf(kind: Kind, o: RosterObject): WorkKey | undefined {
  const namespace = o.metadata.namespace ?? 'default';
  if (kind === 'Plan' || kind === 'Role' || kind === 'User') {
    return { namespace, kind, name: o.metadata.name ?? '' };
  }
  if (kind === 'Organization') return { namespace, kind, name: o.metadata.name ?? '' };
  const org = o.spec?.org;
  return typeof org === 'string' && org !== ''
    ? { namespace, kind: 'Organization', name: org }
    : undefined;
}

/** The record manager of a namespace: records are owned per cluster and namespace. */
export function managerOf(cluster: string, namespace: string): string {
  return `operator:${cluster}/${namespace}`;
}

/** The resource as a document of Roster's format (the operator-only fields left out). */
export function documentOf(kind: Kind, o: RosterObject): Record<string, unknown> {
  const { deletionPolicy: _policy, ...spec } = o.spec ?? {};
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind,
    metadata: { name: o.metadata.name },
    spec,
  };
}

/** How a resource is named in messages and in findings' `file`: `Membership default/alice`. */
export function describeObject(kind: Kind, o: RosterObject): string {
  return `${kind} ${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;
}
