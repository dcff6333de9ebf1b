-- The device this one depends on (its site gateway, say): while that one is
-- offline, this one's offline alert is a consequence, not news.
ALTER TABLE devices ADD COLUMN upstream_id TEXT REFERENCES devices(id);
