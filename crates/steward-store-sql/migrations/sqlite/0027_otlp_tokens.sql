-- OTLP ingestion tokens (issue 18, OTLP in): per organisation, the secret
-- kept only as its SHA-256 (hex) like API tokens; deleting the row revokes
-- the token at once.
CREATE TABLE otlp_tokens (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX otlp_tokens_org ON otlp_tokens(org_id, name);
