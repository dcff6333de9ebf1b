-- Aging infrastructure: each device's latest aging view as the server
-- judged it (OS end of life, uptime, disks and the SMART counters compared
-- against next time: JSON in detail; worst: 0 ok, 1 warning, 2 critical),
-- one row per device, replaced by each judgement.
CREATE TABLE device_aging (
    device_id TEXT PRIMARY KEY REFERENCES devices(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    worst INTEGER NOT NULL,
    detail TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX device_aging_org ON device_aging(org_id, worst);
