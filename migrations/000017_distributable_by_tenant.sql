-- Distributable by tenant (docs/scale.md): every table with an org_id leads its primary key and
-- unique constraints with it, so that a Citus cluster could distribute it by org_id with its
-- organization's other rows on the same node. Lookups by the old keys keep an index each.

-- The outbox: every row is an organization's (invitations are), keyed within it.
ALTER TABLE outbox ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey;
ALTER TABLE outbox ADD PRIMARY KEY (org_id, outbox_id);
ALTER TABLE outbox DROP CONSTRAINT outbox_idempotency_key_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_idempotency_key UNIQUE (org_id, idempotency_key);
CREATE INDEX outbox_by_id ON outbox (outbox_id);

-- Invitation tokens: a 256-bit random token is unique without a constraint to say so; its hash
-- is found through a plain index.
ALTER TABLE invitation_tokens DROP CONSTRAINT invitation_tokens_pkey;
ALTER TABLE invitation_tokens ADD PRIMARY KEY (org_id, token_hash);
CREATE INDEX invitation_tokens_by_hash ON invitation_tokens (token_hash);

-- The audit log: entries that name no organization (plans, roles, people, API keys) are filed
-- under organization 0, which no organization has (identities start at 1). The append-only
-- trigger is lifted for this one rewrite, in this migration's transaction.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
UPDATE audit_log SET org_id = 0 WHERE org_id IS NULL;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
ALTER TABLE audit_log ALTER COLUMN org_id SET DEFAULT 0;
ALTER TABLE audit_log ALTER COLUMN org_id SET NOT NULL;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (org_id, audit_id);
CREATE INDEX audit_log_by_id ON audit_log (audit_id DESC);
