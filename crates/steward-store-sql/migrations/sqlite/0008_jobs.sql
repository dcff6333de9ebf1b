-- Automation: scripts with version history, jobs with one run per target
-- device, schedules, and what each device refuses to do.
CREATE TABLE scripts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,      -- JSON (steward-jobs ScriptDef)
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE script_versions (
    script_id TEXT NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (script_id, version)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    action TEXT NOT NULL,          -- JSON (steward-proto Action)
    selector TEXT NOT NULL,
    policy TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    state TEXT NOT NULL,           -- active | pending_approval | cancelled
    approved_by TEXT,
    origin TEXT
);
CREATE INDEX jobs_org ON jobs(org_id, created_at);

CREATE TABLE job_runs (
    run_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id),
    device_id TEXT NOT NULL REFERENCES devices(id),
    org_id TEXT NOT NULL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    stdout TEXT NOT NULL DEFAULT '',
    stderr TEXT NOT NULL DEFAULT '',
    truncated INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    sent_at INTEGER,
    started_at INTEGER,
    finished_at INTEGER,
    duration_ms INTEGER,
    UNIQUE (job_id, device_id)
);
CREATE INDEX job_runs_device ON job_runs(device_id, status);
CREATE INDEX job_runs_status ON job_runs(status);

CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    timing TEXT NOT NULL,          -- JSON (steward-jobs Timing)
    job TEXT NOT NULL,             -- JSON job request
    enabled INTEGER NOT NULL DEFAULT 1,
    next_run_at INTEGER NOT NULL,
    last_run_at INTEGER,
    created_by TEXT NOT NULL,
    UNIQUE (org_id, name)
);

ALTER TABLE devices ADD COLUMN refuses TEXT NOT NULL DEFAULT '[]';
