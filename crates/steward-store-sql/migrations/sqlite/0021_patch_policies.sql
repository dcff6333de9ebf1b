-- Patch policies and holds (issue 16): editable objects of one
-- organisation; the definition is the JSON steward-patch reads, created_by
-- the person who last set it (deployments run with their authority).
CREATE TABLE patch_policies (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX patch_policies_org ON patch_policies(org_id);
CREATE TABLE patch_holds (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX patch_holds_org ON patch_holds(org_id);
-- Deployments the policy loop started: one per device and plan (its
-- packages and day), claimed once across replicas.
CREATE TABLE patch_deployments (
    device_id TEXT NOT NULL REFERENCES devices(id),
    plan TEXT NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, plan)
);
