-- Maintenance windows and silences (JSON definitions from steward-alert),
-- and why a notification was not sent.
CREATE TABLE maintenance_windows (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE silences (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
ALTER TABLE alerts ADD COLUMN suppressed TEXT;
