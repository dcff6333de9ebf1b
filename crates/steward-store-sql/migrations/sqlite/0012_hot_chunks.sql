-- PostgreSQL only: 0012_hot_chunks.sql there leaves free space in chunk pages
-- and drops an index so updates of the open chunk stay HOT (heap-only
-- tuples). SQLite has neither; kept so both databases count the same
-- versions.
SELECT 1;
