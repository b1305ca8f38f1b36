-- What each apply from manifests was made from, so that the next plan reads and plans only what
-- changed (docs/performance.md, "Incremental plans"). Bookkeeping only: deleting these rows makes
-- the next plan a full one, nothing else.

-- Each file of the input, as the last apply of `manager` read it: its content's SHA-256 and what
-- it declared. Paths are as shown to the user: relative to the working directory.
CREATE TABLE input_files (
  manager       text NOT NULL,
  path          text NOT NULL,
  sha256        text NOT NULL,
  organizations text[] NOT NULL,
  plans         text[] NOT NULL,
  roles         text[] NOT NULL,
  documents     text[] NOT NULL,
  warnings      integer NOT NULL DEFAULT 0,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (manager, path)
);

-- Each organization as the last apply of `manager` left it: the digest of its inputs (files and
-- the plans and roles it uses) and of its rows in the database right after the apply's writes,
-- in the apply's transaction. A plan whose inputs and rows have the same digests has nothing to
-- change in it; any write since (by Roster, the app, or SQL by hand) changes the rows' digest.
CREATE TABLE organization_inputs (
  org_id       bigint PRIMARY KEY REFERENCES organizations (org_id) ON DELETE CASCADE,
  manager      text NOT NULL,
  input_digest text NOT NULL,
  uses         text[] NOT NULL,
  state_digest text NOT NULL,
  recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- A plan compares each organization's rows by their row versions (`xmin`, see
-- src/store/input-index.ts); a member's address lives in `users`, so a change of address touches
-- the user's memberships and grants, which then count as changed. Rare, and row by row.
CREATE FUNCTION roster_user_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE memberships SET updated_at = now() WHERE user_id = NEW.user_id;
  UPDATE grants SET updated_at = now() WHERE user_id = NEW.user_id;
  RETURN NULL;
END
$$;

CREATE TRIGGER users_renamed AFTER UPDATE OF email ON users
  FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email)
  EXECUTE FUNCTION roster_user_renamed();
