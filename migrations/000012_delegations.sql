-- Delegated access (kind Delegation): an administrator of an organization allowed to act for a
-- member (or every member) there, within the member's own permissions, until an expiry. The
-- plan feature `delegation` gates it and `max_delegation_days` bounds how long one may last.
ALTER TABLE plans ADD COLUMN max_delegation_days integer CHECK (max_delegation_days BETWEEN 1 AND 366);
UPDATE plans SET last_applied = last_applied || '{"maxDelegationDays": null}'::jsonb
 WHERE last_applied IS NOT NULL AND NOT last_applied ? 'maxDelegationDays';

CREATE TABLE delegations (
  org_id          bigint NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
  name            text NOT NULL,
  delegate_id     bigint NOT NULL REFERENCES users (user_id),
  -- NULL: every member of the organization.
  on_behalf_of_id bigint REFERENCES users (user_id),
  -- NULL: all of the member's own permissions.
  permissions     text[],
  -- NULL: at once. A planned absence starts later.
  starts_at       timestamptz,
  expires_at      timestamptz NOT NULL CHECK (starts_at IS NULL OR starts_at < expires_at),
  reason          text NOT NULL,
  managed_by      text,
  last_applied    jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, name)
);
-- The access check looks a delegate's delegations up in an organization.
CREATE INDEX delegations_delegate ON delegations (org_id, delegate_id);
CREATE INDEX delegations_user ON delegations (delegate_id);

-- Every use of a delegation answered by the access API is audited (action `act-as`).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
  CHECK (action IN ('create', 'update', 'delete', 'act-as'));

CREATE TRIGGER delegations_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON delegations
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
