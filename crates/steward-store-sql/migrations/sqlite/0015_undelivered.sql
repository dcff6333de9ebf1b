-- A notification that kept failing is given up (by default a day after it
-- was queued) and kept, marked undelivered: its channel shows it until a
-- later notification gets through.
ALTER TABLE outbox ADD COLUMN abandoned_at INTEGER;
-- The channel list counts each channel's waiting and undelivered ones.
CREATE INDEX outbox_channel ON outbox(channel_id, sent_at);
