-- The audit log records what happens to invitations and API keys too, not only the records
-- applied: an invitation accepted, re-sent or revoked by hand; an API key created, revoked, and
-- used (once per key and day).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
  CHECK (action IN ('create', 'update', 'delete', 'act-as',
                    'invitation-accepted', 'invitation-resent', 'invitation-revoked',
                    'api-key-created', 'api-key-used', 'api-key-revoked'));
