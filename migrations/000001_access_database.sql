-- The access database: plans, roles, organizations and what hangs off them.
-- Every tenant table leads with org_id, so the data could be distributed by organization.
-- Columns managed_by and last_applied say which records Roster manages and what it last wrote,
-- so that changes made outside Roster (drift) can be told apart from declared changes.

CREATE TABLE plans (
  name          text PRIMARY KEY,
  display_name  text,
  paid_seats    integer NOT NULL CHECK (paid_seats >= 0),
  free_seats    integer NOT NULL DEFAULT 0 CHECK (free_seats >= 0),
  max_resources integer CHECK (max_resources >= 0),
  features      text[] NOT NULL DEFAULT '{}',
  managed_by    text,
  last_applied  jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE roles (
  name         text PRIMARY KEY,
  scope        text NOT NULL CHECK (scope IN ('organization', 'resource')),
  description  text,
  managed_by   text,
  last_applied jsonb,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_permissions (
  role       text NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
  permission text NOT NULL,
  PRIMARY KEY (role, permission)
);

CREATE TABLE users (
  user_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email      text NOT NULL UNIQUE CHECK (email = lower(email)),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
  org_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL UNIQUE,
  display_name text,
  plan         text REFERENCES plans (name),
  managed_by   text,
  last_applied jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE resources (
  org_id       bigint NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
  type         text NOT NULL,
  name         text NOT NULL,
  managed_by   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, type, name)
);

-- The owner is a membership with role 'owner': exactly one per organization (checked at commit,
-- so that an ownership transfer can swap two rows in one transaction).
CREATE TABLE memberships (
  org_id       bigint NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
  user_id      bigint NOT NULL REFERENCES users (user_id),
  role         text NOT NULL,
  seat         text NOT NULL DEFAULT 'paid' CHECK (seat IN ('paid', 'free')),
  status       text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'active', 'suspended')),
  invited_by   text,
  joined_at    timestamptz,
  managed_by   text,
  last_applied jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id),
  CONSTRAINT memberships_one_owner EXCLUDE USING btree (org_id WITH =) WHERE (role = 'owner')
    DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE grants (
  org_id        bigint NOT NULL,
  user_id       bigint NOT NULL REFERENCES users (user_id),
  resource_type text NOT NULL,
  resource_name text NOT NULL,
  role          text NOT NULL,
  expires_at    timestamptz,
  status        text NOT NULL DEFAULT 'invited' CHECK (status IN ('invited', 'active')),
  invited_by    text,
  joined_at     timestamptz,
  managed_by    text,
  last_applied  jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id, resource_type, resource_name),
  FOREIGN KEY (org_id, resource_type, resource_name)
    REFERENCES resources (org_id, type, name) ON DELETE CASCADE
);
CREATE INDEX grants_user ON grants (user_id);

CREATE TABLE contacts (
  org_id       bigint NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
  email        text NOT NULL CHECK (email = lower(email)),
  name         text,
  categories   text[] NOT NULL,
  managed_by   text,
  last_applied jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, email)
);
CREATE INDEX contacts_categories ON contacts USING gin (categories);

-- One row per invitation sent for a membership or a grant. Only a hash of the token is kept;
-- the token itself exists only in the e-mail.
CREATE TABLE invitations (
  org_id        bigint NOT NULL REFERENCES organizations (org_id) ON DELETE CASCADE,
  invitation_id bigint GENERATED ALWAYS AS IDENTITY,
  user_id       bigint NOT NULL REFERENCES users (user_id),
  subject       text NOT NULL CHECK (subject IN ('membership', 'grant')),
  resource_type text,
  resource_name text,
  role          text NOT NULL,
  invited_by    text,
  token_hash    bytea UNIQUE,
  status        text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'accepted', 'revoked', 'expired')),
  expires_at    timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, invitation_id)
);
CREATE INDEX invitations_user ON invitations (user_id);

-- Mail to send, written in the same transaction as the change that causes it.
CREATE TABLE outbox (
  org_id          bigint,
  outbox_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL,
  idempotency_key text NOT NULL UNIQUE,
  payload         jsonb NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  available_at    timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_pending ON outbox (available_at) WHERE delivered_at IS NULL;

-- Who changed what, when, and from which source (file and git commit, custom resource, Pulumi URN).
CREATE TABLE audit_log (
  org_id     bigint,
  audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at         timestamptz NOT NULL DEFAULT now(),
  actor      text NOT NULL,
  action     text NOT NULL CHECK (action IN ('create', 'update', 'delete')),
  record     text NOT NULL,
  record_key text NOT NULL,
  before     jsonb,
  after      jsonb,
  source     jsonb
);
CREATE INDEX audit_log_org ON audit_log (org_id, at);
