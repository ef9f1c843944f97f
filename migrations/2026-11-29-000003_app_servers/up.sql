-- Each running app server says which release it runs, every few seconds,
-- so the architecture page can show every server's release during a
-- rolling deploy. One row per server name: as many rows as servers.
-- (An expand-only migration: the release before it never reads it.)
CREATE TABLE app_servers (
    name       TEXT PRIMARY KEY,
    release    TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    seen_at    TIMESTAMPTZ NOT NULL
);
