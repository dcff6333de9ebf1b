-- On PostgreSQL, 0001_foundation.sql created what SQLite's 0008_jobs.sql adds (the
-- PostgreSQL store began at SQLite's version 9, in one step). Kept so both
-- databases count the same versions.
SELECT 1;
