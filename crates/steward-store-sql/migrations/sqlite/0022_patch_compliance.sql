-- Patch compliance (issue 16). Whether the device last said it needs a
-- reboot (NULL: it could not tell), kept beside updates_at so the fleet
-- figures count devices waiting for one without reading every inventory.
ALTER TABLE devices ADD COLUMN reboot_required INTEGER;
-- Each day's compliance per organisation and site (UTC days since 1970,
-- the day's last recording), for the trend.
CREATE TABLE patch_compliance_days (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    site TEXT NOT NULL,
    day INTEGER NOT NULL,
    devices INTEGER NOT NULL,
    reporting INTEGER NOT NULL,
    compliant INTEGER NOT NULL,
    stale INTEGER NOT NULL,
    reboot_required INTEGER NOT NULL,
    PRIMARY KEY (org_id, site, day)
);
