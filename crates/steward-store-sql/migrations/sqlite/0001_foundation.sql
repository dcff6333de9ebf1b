-- Foundation schema. Append-only: never edit a released migration.
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    is_root INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE enroll_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    site TEXT NOT NULL,
    tags TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    uses_left INTEGER,
    revoked INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    site TEXT NOT NULL,
    name TEXT NOT NULL,
    hostname TEXT NOT NULL,
    os TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL,
    cert_fingerprint TEXT NOT NULL UNIQUE,
    enrolled_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'offline',
    status_since INTEGER,
    last_seen INTEGER,
    stored_seq INTEGER NOT NULL DEFAULT 0,
    cpu REAL,
    mem REAL,
    disk REAL,
    inventory TEXT,
    inventory_at INTEGER
);
CREATE INDEX devices_org ON devices(org_id);

CREATE TABLE status_changes (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    device_id TEXT NOT NULL REFERENCES devices(id),
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX status_changes_device ON status_changes(device_id, at);

CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    device_id TEXT NOT NULL REFERENCES devices(id),
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (device_id, name, labels)
);

-- One row per compressed chunk (steward-tsdb codec); the newest chunk of a
-- series stays open and grows until it holds CHUNK_SAMPLES samples.
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series(id),
    start_ts INTEGER NOT NULL,
    end_ts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX chunks_series ON chunks(series_id, start_ts);
CREATE INDEX chunks_end ON chunks(end_ts);
