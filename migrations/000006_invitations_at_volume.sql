-- Indexes for invitations at volume (842k queued after a first apply of a million records).

-- `roster invitations list` pages newest first by invitation_id (an identity: newer is larger),
-- and finds each invitation's latest outbox row through an index instead of reading the outbox
-- once per invitation (minutes).
CREATE INDEX invitations_newest ON invitations (invitation_id);
CREATE INDEX outbox_invitation ON outbox (org_id, ((payload ->> 'invitationId')::bigint), outbox_id)
  WHERE kind = 'invitation';

-- Delivery claims the oldest due rows (ORDER BY available_at, outbox_id LIMIT n): ordered by both,
-- the index yields a batch directly, where one on available_at alone had every due row sorted
-- for each batch (the rows of one apply share their available_at).
DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (available_at, outbox_id) WHERE delivered_at IS NULL;
