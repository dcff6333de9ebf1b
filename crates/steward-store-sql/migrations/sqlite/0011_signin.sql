-- Sign-in hardening (issue #13).
-- The last TOTP time step accepted for each user: a code is good once, and
-- the conditional update that records it is shared by every replica.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
-- sessions.mfa_done now says the session presented a second factor; one
-- signed in by a user without TOTP did not. (Whether such a session may do
-- more than set one up depends on its organisation, decided at every call.)
UPDATE sessions SET mfa_done = 0
 WHERE user_id IN (SELECT id FROM users WHERE totp_enabled = 0);
