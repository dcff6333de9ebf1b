-- Agentless devices (issue 18): switches, printers, UPSs, websites,
-- certificates checked by another device's agent (the probing agent).
-- They are rows of devices (so they are in the inventory, fleet views,
-- metrics, checks and alerts like any other), with kind 'agentless', a
-- category, an address and the agent that probes them; their certificate
-- fingerprint is 'agentless:<id>', which no certificate can have.
ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'agent';
ALTER TABLE devices ADD COLUMN category TEXT;
ALTER TABLE devices ADD COLUMN address TEXT;
ALTER TABLE devices ADD COLUMN probe_agent_id TEXT REFERENCES devices(id);
CREATE INDEX devices_probe_agent ON devices(probe_agent_id);
-- Probes assigned by the server: run by the device's probing agent, with
-- the authority of the person who created them (re-checked when handed
-- to the agent).
CREATE TABLE device_probes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    device_id TEXT NOT NULL REFERENCES devices(id),
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (device_id, name)
);
