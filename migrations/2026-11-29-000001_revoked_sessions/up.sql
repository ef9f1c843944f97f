-- Signing out ends that browser session for good, even where the session
-- travels in a cookie that someone may have copied: the session's id is
-- recorded here until the session would have expired anyway, and the one
-- lookup of the viewer that every signed-in page makes refuses it.
CREATE TABLE revoked_sessions (
    id         TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Expired entries are swept a few at a time by later sign-outs.
CREATE INDEX revoked_sessions_expires_at ON revoked_sessions (expires_at);
CREATE INDEX revoked_sessions_user_id ON revoked_sessions (user_id);
