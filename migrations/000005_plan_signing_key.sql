-- Settings Roster keeps in the database. The first: the key that signs saved plans
-- ("roster plan -o"), so that "roster apply plan.json" refuses a file edited since. 32 bytes
-- from the server's strong random source (gen_random_uuid, PostgreSQL 13+).
CREATE TABLE roster_settings (
  name  text PRIMARY KEY,
  value bytea NOT NULL
);
INSERT INTO roster_settings (name, value)
VALUES ('plan-signing-key', uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
