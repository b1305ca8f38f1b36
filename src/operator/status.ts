/**
 * Status conditions, as Kubernetes API conventions describe them: `Ready` (the access database
 * holds what the resource declares) and `Synced` (the last reconcile of this generation applied),
 * each with a reason, a message, `observedGeneration`, and a `lastTransitionTime` that moves only
 * when the condition's status does.
 */
import type { RosterObject } from './resources.js';

export interface Condition {
  type: 'Ready' | 'Synced';
  status: 'True' | 'False' | 'Unknown';
  reason: ConditionReason;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

/** Why a resource's conditions are what they are. */
export type ConditionReason =
  /** The access database holds what it declares. */
  | 'Applied'
  /** The annotation roster.dev/paused="true" stops reconciling it (or its organization). */
  | 'Paused'
  /** It breaks the schema or a rule; fixing the resource is needed. */
  | 'Invalid'
  /** It names a plan, role, organization or resource that does not exist yet. */
  | 'MissingReference'
  /** Its organization is missing, invalid or being deleted. */
  | 'OrganizationNotReady'
  /** The plan was refused (a rule over the database, or another manager's record). */
  | 'Refused'
  /** The apply failed for another reason (the database, a conflict); retried. */
  | 'ApplyFailed';

/** What a reconcile concluded about one resource. */
export interface Outcome {
  /** `unchanged`: Ready keeps its last value (a pause, or a failure that says nothing new). */
  readonly ready: boolean | 'unchanged';
  readonly reason: ConditionReason;
  readonly message: string;
}

const MAX_MESSAGE = 32_000;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** The conditions after `outcome`, keeping transition times of conditions whose status held. */
export function conditionsFor(o: RosterObject, outcome: Outcome): Condition[] {
  const previous = (o.status?.conditions as Condition[] | undefined) ?? [];
  const generation = o.metadata.generation ?? 0;
  const message =
    outcome.message.length > MAX_MESSAGE
      ? `${outcome.message.slice(0, MAX_MESSAGE)}...`
      : outcome.message;
  const make = (
    type: Condition['type'],
    status: Condition['status'],
    reason: ConditionReason,
    text: string,
  ): Condition => {
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason,
      message: text,
      observedGeneration: generation,
      lastTransitionTime:
        before !== undefined && before.status === status ? before.lastTransitionTime : now(),
    };
  };
  const priorReady = previous.find((c) => c.type === 'Ready');
  const ready =
    outcome.ready === 'unchanged'
      ? priorReady !== undefined
        ? priorReady
        : make('Ready', 'Unknown', outcome.reason, outcome.message)
      : make('Ready', outcome.ready ? 'True' : 'False', outcome.reason, message);
  const synced = make(
    'Synced',
    outcome.reason === 'Applied' ? 'True' : 'False',
    outcome.reason,
    message,
  );
  return [ready, synced];
}
