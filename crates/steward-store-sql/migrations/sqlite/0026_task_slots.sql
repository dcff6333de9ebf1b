-- Periodic work every replica runs on the same clock but that must run
-- once per period (the problem scan): the newest claimed slot per task.
CREATE TABLE task_slots (
    task TEXT PRIMARY KEY,
    slot BIGINT NOT NULL
);
