-- Runbooks (issue 19): documented procedures in Markdown, org-wide.
-- Every edit is a new version (runbook_versions keeps them all); the row
-- holds the current one. What a runbook is attached to and the scripts it
-- offers are part of its definition (JSON).
CREATE TABLE runbooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    title TEXT NOT NULL,
    definition TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX runbooks_org ON runbooks(org_id, title);
CREATE TABLE runbook_versions (
    runbook_id TEXT NOT NULL REFERENCES runbooks(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (runbook_id, version)
);
-- SLA targets per organisation and priority, and the warnings sent: the
-- primary key of sla_warnings is the claim that sends each warning once
-- per incident and threshold, across replicas.
CREATE TABLE sla_targets (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    priority TEXT NOT NULL,
    acknowledge_ms INTEGER,
    resolve_ms INTEGER,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org_id, priority)
);
CREATE TABLE sla_warnings (
    incident_id TEXT NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
    threshold TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, threshold)
);
