-- Appending to a series' open chunk rewrites its end, count and data; every
-- index on one of those columns costs SQLite an index delete and insert per
-- append (two of the three B-tree writes an append made). Retention finds
-- aged chunks through their start instead (a chunk ends after it starts),
-- as on PostgreSQL since 0012; reads by series use chunks_resolution.
DROP INDEX chunks_end;
DROP INDEX chunks_resolution_end;
DROP INDEX chunks_series;
CREATE INDEX chunks_resolution_start ON chunks(resolution, start_ts);
