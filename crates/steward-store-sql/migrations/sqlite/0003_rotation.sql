-- Credential rotation: a device may hold a second, newer certificate
-- fingerprint until it first connects with it.
ALTER TABLE devices ADD COLUMN next_fingerprint TEXT;
CREATE UNIQUE INDEX devices_next_fingerprint ON devices(next_fingerprint);
