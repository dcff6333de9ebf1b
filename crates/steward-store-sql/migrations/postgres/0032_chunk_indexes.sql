-- SQLite only: 0032_chunk_indexes.sql there drops the indexes on a chunk's
-- end that PostgreSQL dropped in 0012. Kept so both databases count the
-- same versions.
SELECT 1;
