-- Scheduled reports by email and inbound email (issue 19).
-- A report schedule sends an organisation's (or one site's) report, PDF
-- and CSV attached, through one of its email channels to its recipients,
-- weekly or monthly, under the name and authority of who set it up
-- (re-read each time it runs). next_run_at is the claim: a replica moves
-- it from the value it read, so one sends.
CREATE TABLE report_schedules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    site TEXT,
    cadence TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    recipients TEXT NOT NULL,
    created_by TEXT NOT NULL,
    next_run_at BIGINT NOT NULL,
    last_sent_at BIGINT,
    last_period TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX report_schedules_due ON report_schedules(next_run_at);
-- Inbound email routes: per-organisation endpoints a mail provider or an
-- MTA pipe posts raw messages to, with a secret (kept like a channel's)
-- and the sender rules (addresses and @domains, JSON) that map a sender
-- to the organisation; any other sender is refused.
CREATE TABLE inbound_email_routes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    senders TEXT NOT NULL,
    priority TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX inbound_email_routes_org ON inbound_email_routes(org_id, name);
-- Message-IDs received per route: the primary key is the claim, so a
-- replayed message is refused on every replica.
CREATE TABLE inbound_email_messages (
    route_id TEXT NOT NULL REFERENCES inbound_email_routes(id) ON DELETE CASCADE,
    message_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (route_id, message_id)
);
