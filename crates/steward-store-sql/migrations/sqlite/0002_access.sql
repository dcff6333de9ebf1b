-- Roles, grants, token scopes, two-factor, audit trail.
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    org_id TEXT REFERENCES orgs(id),  -- NULL for built-in roles
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,        -- JSON array of permission names
    UNIQUE (org_id, name)
);

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    org_id TEXT REFERENCES orgs(id),  -- NULL: every organisation
    site TEXT,                        -- NULL: every site of the organisation
    role_id TEXT NOT NULL REFERENCES roles(id),
    effect TEXT NOT NULL CHECK (effect IN ('allow', 'deny'))
);
CREATE INDEX grants_user ON grants(user_id);

-- A token acts with at most its role's permissions, within its scope.
ALTER TABLE api_tokens ADD COLUMN role_id TEXT REFERENCES roles(id);
ALTER TABLE api_tokens ADD COLUMN scope_org TEXT REFERENCES orgs(id);
ALTER TABLE api_tokens ADD COLUMN scope_site TEXT;

ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orgs ADD COLUMN require_totp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN mfa_done INTEGER NOT NULL DEFAULT 1;

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- Append-only and hash-chained: hash = SHA-256(prev_hash || canonical entry).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    org_id TEXT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Built-in roles (the server keeps their permission lists current at start)
-- and grants for users created before roles existed.
INSERT INTO roles (id, org_id, name, permissions) VALUES
    ('owner', NULL, 'owner', '[]'),
    ('admin', NULL, 'admin', '[]'),
    ('technician', NULL, 'technician', '[]'),
    ('read_only', NULL, 'read_only', '[]');
INSERT INTO grants (id, user_id, org_id, site, role_id, effect)
    SELECT lower(hex(randomblob(16))), u.id, CASE WHEN o.is_root = 1 THEN NULL ELSE u.org_id END, NULL,
           CASE u.role WHEN 'admin' THEN 'owner' WHEN 'technician' THEN 'technician' ELSE 'read_only' END, 'allow'
    FROM users u JOIN orgs o ON o.id = u.org_id;
