-- Invitation delivery: per-plan and per-organization invitation policy, one row per token sent
-- (only its hash), the timestamps of the lifecycle, and API keys for the access API.

ALTER TABLE plans
  ADD COLUMN invitation_expiry_days integer CHECK (invitation_expiry_days BETWEEN 1 AND 90),
  ADD COLUMN invitation_max_resends integer CHECK (invitation_max_resends BETWEEN 0 AND 10);

ALTER TABLE organizations
  ADD COLUMN invitation_expiry_days integer CHECK (invitation_expiry_days BETWEEN 1 AND 90),
  ADD COLUMN invitation_max_resends integer CHECK (invitation_max_resends BETWEEN 0 AND 10);

ALTER TABLE invitations
  DROP COLUMN token_hash,
  ADD COLUMN sent_at timestamptz,
  ADD COLUMN accepted_at timestamptz,
  ADD COLUMN resend_count integer NOT NULL DEFAULT 0;
CREATE INDEX invitations_pending_expiry ON invitations (expires_at) WHERE status = 'pending';

-- Each e-mail carries a token of its own; any of them accepts the invitation, once.
CREATE TABLE invitation_tokens (
  org_id        bigint NOT NULL,
  invitation_id bigint NOT NULL,
  token_hash    bytea PRIMARY KEY,
  created_at    timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (org_id, invitation_id) REFERENCES invitations (org_id, invitation_id) ON DELETE CASCADE
);

CREATE TABLE api_keys (
  key_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  key_hash     bytea NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
