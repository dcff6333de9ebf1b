-- A grant is edited in place (its role, site or effect) like other
-- objects: every change bumps the version, an edit names the version it
-- read (If-Match).
ALTER TABLE grants ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
-- What people are called and where to reach them. The username stays the
-- sign-in name: what runs later (schedules, self-healing, scripts) names
-- its owner by it, and the audit trail keeps it.
ALTER TABLE users ADD COLUMN full_name TEXT;
ALTER TABLE users ADD COLUMN email TEXT;
