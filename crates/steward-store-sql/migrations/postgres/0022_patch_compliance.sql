-- Patch compliance (issue 16). Whether the device last said it needs a
-- reboot (NULL: it could not tell), kept beside updates_at so the fleet
-- figures count devices waiting for one without reading every inventory.
ALTER TABLE devices ADD COLUMN reboot_required BOOLEAN;
-- Each day's compliance per organisation and site (UTC days since 1970,
-- the day's last recording), for the trend.
CREATE TABLE patch_compliance_days (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    site TEXT NOT NULL,
    day BIGINT NOT NULL,
    devices BIGINT NOT NULL,
    reporting BIGINT NOT NULL,
    compliant BIGINT NOT NULL,
    stale BIGINT NOT NULL,
    reboot_required BIGINT NOT NULL,
    PRIMARY KEY (org_id, site, day)
);
