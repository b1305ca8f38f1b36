-- What `roster members`, `roster audit` and their API routes read, by index: an organization's
-- entries newest first (replacing the index by time, which nothing orders by), a record's
-- latest entry (a member's last change and its source; also what a plan reads to tell a record
-- deleted outside Roster), and the entries about one person.
DROP INDEX audit_log_org;
CREATE INDEX audit_log_org ON audit_log (org_id, audit_id DESC);
CREATE INDEX audit_log_record ON audit_log (org_id, record_key, audit_id DESC);
CREATE INDEX audit_log_person ON audit_log (((record_key::jsonb) ->> 'user'), audit_id DESC);
