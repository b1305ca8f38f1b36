-- One person, several addresses (kind User): the primary address is the users row's email, the
-- others are aliases pointing at that row. Every lookup by address (the access check, the
-- switch-account list) resolves an alias first. A User record manages the aliases only: removing
-- it drops them and its management, never the row (memberships point at it).

-- Who manages a person as a User record. A table of its own rather than columns of users: the
-- application's queries joining users to memberships keep their unqualified column names.
CREATE TABLE user_records (
  user_id      bigint PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
  managed_by   text,
  last_applied jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_aliases (
  alias   text PRIMARY KEY CHECK (alias = lower(alias)),
  user_id bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE
);
CREATE INDEX user_aliases_user ON user_aliases (user_id);

-- An address is one person: an alias may not be a user of its own with access (merging two
-- people is an explicit step: remove the old address's access, then add the alias), and no user
-- may be added under an address that is an alias. Statement-level with transition tables, so that
-- a first apply of a million users pays one join, not a million trigger calls.
CREATE FUNCTION roster_alias_taken() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  clash text;
BEGIN
  IF TG_TABLE_NAME = 'user_aliases' THEN
    SELECT a.alias INTO clash
      FROM added a JOIN users u ON u.email = a.alias
     WHERE u.user_id <> a.user_id
       AND (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.user_id)
            OR EXISTS (SELECT 1 FROM grants g WHERE g.user_id = u.user_id))
     LIMIT 1;
    IF clash IS NOT NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'RA001',
        MESSAGE = format('%s cannot become an alias: it is a user of its own with memberships or grants', clash),
        HINT = 'remove that address''s access first (or stop declaring the alias), then apply again';
    END IF;
  ELSE
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

CREATE TRIGGER user_aliases_taken AFTER INSERT ON user_aliases REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION roster_alias_taken();
CREATE TRIGGER user_aliases_taken_update AFTER UPDATE ON user_aliases REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION roster_alias_taken();
CREATE TRIGGER users_alias_taken AFTER INSERT ON users REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION roster_alias_taken();

-- What an access decision reads: an alias changes who an address is.
CREATE TRIGGER user_aliases_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_aliases
  FOR EACH STATEMENT EXECUTE FUNCTION roster_access_changed();
