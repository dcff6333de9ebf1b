-- Who resolved an alert by hand (NULL: its condition cleared by itself).
ALTER TABLE alerts ADD COLUMN resolved_by TEXT;
