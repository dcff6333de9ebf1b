-- The console's fleet views: a daily record of the headline figures per
-- organisation and site (the dashboard's 30-day trends), and an index for
-- "devices with unresolved alerts".
CREATE TABLE fleet_days (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    site TEXT NOT NULL,
    day INTEGER NOT NULL,          -- days since 1970-01-01, UTC
    devices INTEGER NOT NULL,
    online INTEGER NOT NULL,
    offline INTEGER NOT NULL,
    alerts_critical INTEGER NOT NULL,
    alerts_warning INTEGER NOT NULL,
    forecast_full INTEGER NOT NULL,
    failing_checks INTEGER NOT NULL,
    missing_updates INTEGER NOT NULL,
    security_updates INTEGER NOT NULL,
    PRIMARY KEY (org_id, site, day)
);
CREATE INDEX alerts_device_unresolved ON alerts(device_id, severity) WHERE state != 'resolved';
