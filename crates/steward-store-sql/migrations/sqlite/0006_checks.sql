-- The latest result of each local script check of each device.
CREATE TABLE check_results (
    device_id TEXT NOT NULL REFERENCES devices(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    message TEXT NOT NULL,
    long_output TEXT NOT NULL,
    perfdata TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (device_id, name)
);
