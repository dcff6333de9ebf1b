-- Appending to a series' open chunk rewrites its end, count and data. With
-- none of those columns indexed, PostgreSQL can update the row in place (a
-- HOT update, with the spare room per page that the fill factor keeps)
-- instead of adding an entry to every index of the table. Retention finds
-- aged chunks through their start (a chunk ends after it starts).
DROP INDEX chunks_end;
DROP INDEX chunks_resolution_end;
DROP INDEX chunks_series;
CREATE INDEX chunks_resolution_start ON chunks(resolution, start_ts);
ALTER TABLE chunks SET (fillfactor = 70);
