-- Security posture: each device's latest view as the server judged it
-- (score, checks, ports, administrators, files, recent changes, login
-- history: JSON in detail), one row per device, replaced by each report.
CREATE TABLE device_posture (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    score REAL,
    detail TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX device_posture_org ON device_posture(org_id, score);
