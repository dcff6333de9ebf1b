-- Organisations, roles, users and devices (their name and site) are edited
-- in place like monitors: every change bumps the version, an edit names the
-- version it read (If-Match).
ALTER TABLE orgs ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE roles ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE devices ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
