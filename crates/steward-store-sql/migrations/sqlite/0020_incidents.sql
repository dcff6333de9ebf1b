-- Incidents (issue 19): the work around alerts that need a human. An
-- editable object (version), org-wide; devices and alerts linked in their
-- own tables, so linking is an insert, never a rewrite of the row.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    assignee TEXT,
    time_spent_ms INTEGER NOT NULL DEFAULT 0,
    opened_at INTEGER NOT NULL,
    opened_by TEXT NOT NULL,
    acknowledged_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER,
    last_activity INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX incidents_org ON incidents(org_id, status, last_activity);
-- An alert belongs to at most one incident: the primary key is the claim
-- that keeps two replicas from opening two incidents for one alert.
CREATE TABLE incident_alerts (
    alert_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    device_id TEXT NOT NULL,
    monitor_id TEXT NOT NULL,
    group_key TEXT,
    linked_at INTEGER NOT NULL
);
CREATE INDEX incident_alerts_incident ON incident_alerts(incident_id);
CREATE TABLE incident_devices (
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    device_id TEXT NOT NULL,
    PRIMARY KEY (incident_id, device_id)
);
CREATE INDEX incident_devices_device ON incident_devices(device_id);
-- The timeline: notes and actions, each with who and when.
CREATE TABLE incident_events (
    seq INTEGER PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events(incident_id, seq);
-- Problems: recurring incidents found by the problem rules, one per
-- organisation, signature (a monitor) and rule kind.
CREATE TABLE problems (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    signature TEXT NOT NULL,
    rule_kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    devices TEXT NOT NULL,
    incidents TEXT NOT NULL,
    root_cause TEXT,
    workaround TEXT,
    fix TEXT,
    known_error INTEGER NOT NULL DEFAULT 0,
    resolved_at INTEGER,
    version INTEGER NOT NULL DEFAULT 1,
    UNIQUE (org_id, signature, rule_kind)
);
