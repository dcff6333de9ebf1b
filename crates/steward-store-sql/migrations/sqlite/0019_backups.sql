-- Backup monitoring. Each device's jobs as it last reported them (the
-- whole job, in the wire model, as JSON in detail; the columns the
-- queries read beside it), and every outcome once: a backup run or a
-- restore test, identified by its job and time, so a report sent again
-- records nothing new. Success rates are counted from backup_runs.
CREATE TABLE backup_jobs (
    device_id TEXT NOT NULL REFERENCES devices(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    result TEXT NOT NULL,
    last_run_at INTEGER,
    newest_good_at INTEGER,
    detail TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, name)
);
CREATE TABLE backup_runs (
    device_id TEXT NOT NULL REFERENCES devices(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    run_at INTEGER NOT NULL,
    result TEXT NOT NULL,
    reason TEXT NOT NULL,
    duration_ms INTEGER,
    size_bytes INTEGER,
    file_count INTEGER,
    PRIMARY KEY (device_id, name, kind, run_at)
);
CREATE INDEX backup_runs_org_at ON backup_runs(org_id, run_at);
