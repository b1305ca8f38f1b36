-- Invitations in the organization's language and time zone, under its brand (or the
-- platform's, part by part, when a column is null).
ALTER TABLE organizations
  ADD COLUMN locale       text,
  ADD COLUMN time_zone    text,
  ADD COLUMN product_name text,
  ADD COLUMN sender_name  text,
  ADD COLUMN logo_url     text CHECK (logo_url ~ '^https://'),
  ADD COLUMN accent_color text CHECK (accent_color ~ '^#[0-9a-f]{6}$');

-- A person's own language, over their organization's (kind User, spec.locale).
ALTER TABLE user_records ADD COLUMN locale text;
