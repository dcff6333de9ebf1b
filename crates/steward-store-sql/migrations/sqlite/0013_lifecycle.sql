-- Objects edited in place carry a version that every change bumps: an edit
-- names the version it read and loses to a newer one (HTTP If-Match).
-- Monitors, channels and users can be disabled without being deleted.
ALTER TABLE monitors ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE monitors ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE channels ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE channels ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE maintenance_windows ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE silences ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE schedules ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
-- A retired device keeps its history for reports but leaves the lists and
-- refuses its identity.
ALTER TABLE devices ADD COLUMN retired_at INTEGER;
-- A deleted organisation stays for its audit trail (append-only), out of
-- every list, its name freed.
ALTER TABLE orgs ADD COLUMN deleted_at INTEGER;
