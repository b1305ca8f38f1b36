-- Groups of an organization (kind Group): people who share an organization role and grants on
-- its resources. Tenant tables, led by org_id like the others; a group's people are rows of
-- group_members, its grants rows of group_grants, both removed with the group.
CREATE TABLE groups (
  org_id       bigint NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
  name         text NOT NULL,
  role         text,
  managed_by   text,
  last_applied jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, name)
);

-- One row per person and group. `status` is the person's in the organization through groups:
-- `invited` until they accept an invitation of the organization (any: the group's, or their
-- membership's), then `active`; a person who is already an active member joins active.
CREATE TABLE group_members (
  org_id     bigint NOT NULL,
  group_name text NOT NULL,
  user_id    bigint NOT NULL REFERENCES users (user_id),
  status     text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'active')),
  joined_at  timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, group_name, user_id),
  FOREIGN KEY (org_id, group_name) REFERENCES groups (org_id, name) ON DELETE CASCADE
);
-- The access check and the seat count look a person up in an organization's groups.
CREATE INDEX group_members_person ON group_members (org_id, user_id);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE group_grants (
  org_id        bigint NOT NULL,
  group_name    text NOT NULL,
  resource_type text NOT NULL,
  resource_name text NOT NULL,
  role          text NOT NULL,
  PRIMARY KEY (org_id, group_name, resource_type, resource_name),
  FOREIGN KEY (org_id, group_name) REFERENCES groups (org_id, name) ON DELETE CASCADE,
  FOREIGN KEY (org_id, resource_type, resource_name)
    REFERENCES resources (org_id, type, name) ON DELETE CASCADE
);
CREATE INDEX group_grants_resource ON group_grants (org_id, resource_type, resource_name);

-- A group's invitation: once per person and organization, naming the first group.
ALTER TABLE invitations DROP CONSTRAINT invitations_subject_check;
ALTER TABLE invitations ADD CONSTRAINT invitations_subject_check
  CHECK (subject IN ('membership', 'grant', 'group'));

-- What an access decision reads.
CREATE TRIGGER groups_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON groups
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER group_members_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
CREATE TRIGGER group_grants_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_grants
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();

-- An address in a group is access of its own: it does not silently become an alias either.
CREATE OR REPLACE FUNCTION roster_alias_taken() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  clash text;
BEGIN
  IF TG_TABLE_NAME = 'user_aliases' THEN
    SELECT a.alias INTO clash
      FROM added a JOIN users u ON u.email = a.alias
     WHERE u.user_id <> a.user_id
       AND (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.user_id)
            OR EXISTS (SELECT 1 FROM grants g WHERE g.user_id = u.user_id)
            OR EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = u.user_id))
     LIMIT 1;
    IF clash IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'RA001',
        MESSAGE = format('%s cannot become an alias: it is a user of its own with memberships, grants or groups', clash),
        HINT = 'remove that address''s access first (or stop declaring the alias), then apply again';
    END IF;
  ELSE
    -- Most platforms declare no alias: a first apply of a million users then costs nothing here.
    IF NOT EXISTS (SELECT 1 FROM user_aliases) THEN
      RETURN NULL;
    END IF;
    SELECT a.alias INTO clash FROM added u JOIN user_aliases a ON a.alias = u.email LIMIT 1;
    IF clash IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'RA001',
        MESSAGE = format('%s is an alias of another user: it cannot be a user of its own', clash),
        HINT = 'name the person by their primary address, or declare the User that owns the alias where the membership is';
    END IF;
  END IF;
  RETURN NULL;
END
$$;
