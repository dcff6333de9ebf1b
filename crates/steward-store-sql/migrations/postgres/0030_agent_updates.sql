-- Agent self-update (issue 21): signed agent releases per platform, their
-- rollouts by ring per organisation, and each device's answer.
-- A release belongs to the installation (the same binary serves every
-- organisation); the signature was made offline with the release key and
-- is checked by the agents, not by this server.
CREATE TABLE agent_releases (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL,
    content BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (target, version)
);
-- A rollout runs as its creator (re-checked each time it offers).
CREATE TABLE agent_rollouts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    release_id TEXT NOT NULL REFERENCES agent_releases(id),
    pilot_tags TEXT NOT NULL,
    ring_delay_ms BIGINT NOT NULL,
    max_failures BIGINT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX agent_rollouts_org ON agent_rollouts(org_id, state);
-- Each device's last offer and answer per rollout.
CREATE TABLE agent_updates (
    rollout_id TEXT NOT NULL REFERENCES agent_rollouts(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    offered_at BIGINT,
    outcome TEXT,
    detail TEXT NOT NULL DEFAULT '',
    answered_at BIGINT,
    PRIMARY KEY (rollout_id, device_id)
);
-- The version and platform each agent said hello with.
CREATE TABLE agent_versions (
    device_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
    version TEXT NOT NULL,
    target TEXT NOT NULL,
    seen_at BIGINT NOT NULL
);
