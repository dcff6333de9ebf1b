-- Inbound incident webhooks (issue 19, integrations): per-organisation
-- endpoints a helpdesk or monitoring tool posts signed deliveries to.
-- The signing secret is kept as notification channels keep theirs (the
-- server needs it to check the HMAC) and never answered after creation.
CREATE TABLE incident_webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX incident_webhooks_org ON incident_webhooks(org_id, name);
-- Signatures seen within the replay window: the primary key is the claim,
-- so a replayed delivery is refused on every replica.
CREATE TABLE incident_webhook_deliveries (
    webhook_id TEXT NOT NULL REFERENCES incident_webhooks(id) ON DELETE CASCADE,
    signature TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (webhook_id, signature)
);
-- The incident an external id (a helpdesk's ticket) opened.
CREATE TABLE incident_external_ids (
    webhook_id TEXT NOT NULL REFERENCES incident_webhooks(id) ON DELETE CASCADE,
    external_id TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    PRIMARY KEY (webhook_id, external_id)
);
-- Problem rules per organisation (absent: the defaults of
-- steward_incident::problems::Rule::DEFAULTS), as JSON.
CREATE TABLE problem_rules (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id),
    rules TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
