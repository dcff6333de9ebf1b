-- Patching (issue 16). Each device's installed packages, one row each, so
-- "which devices run openssl below 3.0.15?" is an index lookup by name
-- (versions are then compared by the package manager's rules in the
-- server, not in SQL).
CREATE TABLE device_packages (
    device_id TEXT NOT NULL REFERENCES devices(id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    manager TEXT NOT NULL
);
CREATE INDEX device_packages_name ON device_packages(name);
CREATE INDEX device_packages_device ON device_packages(device_id);
-- Pending updates with the time each package was first seen pending and
-- since when it is a security update (compliance: how long a device has
-- been missing one). The full report stays in devices.inventory.
CREATE TABLE pending_updates (
    device_id TEXT NOT NULL REFERENCES devices(id),
    name TEXT NOT NULL,
    arch TEXT NOT NULL,
    current_version TEXT NOT NULL,
    available TEXT NOT NULL,
    security INTEGER NOT NULL,
    rule TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    security_since INTEGER,
    PRIMARY KEY (device_id, name, arch)
);
-- A hash of the package list last stored (rewritten only when it changes)
-- and when the device last reported its pending updates.
ALTER TABLE devices ADD COLUMN packages_hash TEXT;
ALTER TABLE devices ADD COLUMN updates_at INTEGER;
