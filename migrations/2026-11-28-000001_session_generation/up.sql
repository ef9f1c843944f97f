-- Signing out everywhere: every browser session and API token carries the
-- generation it was issued under, and is refused once this number moves on.
-- Changing the password or pressing "Sign out everywhere" adds one.
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;
