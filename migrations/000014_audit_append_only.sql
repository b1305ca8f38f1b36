-- The audit log is append-only: no role Roster connects with may change or delete an entry,
-- whatever its table privileges (a trigger, so that it holds for the table's owner too; only
-- dropping the trigger, a schema change, can lift it). Removing old entries is a deliberate,
-- reviewed migration, not an UPDATE or DELETE.
CREATE FUNCTION roster_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'RA002',
    MESSAGE = 'the audit log is append-only: its entries are never changed or deleted';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION roster_audit_append_only();
