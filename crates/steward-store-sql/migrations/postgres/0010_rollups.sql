-- Metric chunks at three resolutions: raw samples (0), 5-minute means
-- (300000) and hourly means (3600000), in ms (as the SQLite store's 0010).
ALTER TABLE chunks ADD COLUMN resolution BIGINT NOT NULL DEFAULT 0;
CREATE INDEX chunks_resolution ON chunks(series_id, resolution, start_ts);
CREATE INDEX chunks_resolution_end ON chunks(resolution, end_ts);
