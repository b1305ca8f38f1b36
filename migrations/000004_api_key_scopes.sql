-- API keys are scoped to organizations: a key reads only the organizations it names, unless it
-- was made for all of them on purpose. Keys may expire; their last use is kept (to the minute).
ALTER TABLE api_keys
  ADD COLUMN all_organizations boolean NOT NULL DEFAULT false,
  ADD COLUMN organizations text[] NOT NULL DEFAULT '{}',
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN last_used_at timestamptz;

-- Keys made before scopes existed read every organization, as they did until now.
UPDATE api_keys SET all_organizations = true;

ALTER TABLE api_keys
  ADD CONSTRAINT api_keys_scope CHECK (all_organizations OR cardinality(organizations) > 0);
