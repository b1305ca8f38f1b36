-- The audit log records what happens to invitations and API keys too, not only the records
-- applied: an invitation e-mailed, accepted, re-sent (by hand, or after it expired), revoked by
-- hand, or expired for good; an API key created, revoked, and used (once per key and day).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
  CHECK (action IN ('create', 'update', 'delete', 'act-as',
                    'invitation-sent', 'invitation-accepted', 'invitation-resent',
                    'invitation-revoked', 'invitation-expired',
                    'api-key-created', 'api-key-used', 'api-key-revoked'));
