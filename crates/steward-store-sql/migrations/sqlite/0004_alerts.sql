-- Monitors, alerts with their history, notification channels and the
-- persistent notification outbox.
CREATE TABLE monitors (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    definition TEXT NOT NULL,      -- JSON (steward-alert Monitor)
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    monitor_id TEXT NOT NULL,
    monitor_name TEXT NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(id),
    subject TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at INTEGER,
    resolved_at INTEGER,
    flapping INTEGER NOT NULL DEFAULT 0
);
-- One active alert per (monitor, device, subject).
CREATE UNIQUE INDEX alerts_active ON alerts(monitor_id, device_id, subject) WHERE state != 'resolved';
CREATE INDEX alerts_org_state ON alerts(org_id, state);

CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    at INTEGER NOT NULL,
    event TEXT NOT NULL            -- JSON
);
CREATE INDEX alert_events_alert ON alert_events(alert_id, id);

CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,            -- webhook
    config TEXT NOT NULL,          -- JSON: url, secret
    min_severity TEXT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    alert_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    sent_at INTEGER,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox(sent_at, next_at);
