-- Who holds an outbox row while sending it, and since when: a delivery that stopped (a crash, a
-- lost connection) is then reported as such, and its rows come back when the lease ends.
ALTER TABLE outbox
  ADD COLUMN claimed_by text,
  ADD COLUMN claimed_at timestamptz;

-- The outbox row a token was mailed for: a row sent again after an interrupted delivery replaces
-- the tokens of its earlier attempt instead of leaving them behind.
ALTER TABLE invitation_tokens ADD COLUMN outbox_id bigint;
CREATE INDEX invitation_tokens_outbox ON invitation_tokens (outbox_id) WHERE outbox_id IS NOT NULL;
