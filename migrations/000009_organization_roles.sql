-- A custom role may belong to one organization: visible and usable there only (Role.spec.org).
-- Names stay unique across the platform, as document names are; a platform-wide role has no
-- organization. The organization is named, as a membership names its role: a role may be
-- written before its organization exists (the operator reconciles them apart), and grants
-- nothing until an organization of that name does, and nothing anywhere else.
ALTER TABLE roles ADD COLUMN org text;

-- What Roster last wrote now says which organization, if any: none for the roles written so far.
UPDATE roles SET last_applied = last_applied || '{"org": null}'::jsonb
 WHERE last_applied IS NOT NULL AND NOT last_applied ? 'org';
