-- Accounts. Usernames are ASCII and compared without case: the C collation
-- lets one btree index on lower(username) serve exact lookups, prefix search
-- (the people directory) and alphabetical order.
CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT COLLATE "C" NOT NULL,
    email         TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    name          TEXT NOT NULL DEFAULT '',
    bio           TEXT NOT NULL DEFAULT '',
    image         TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- Prefix search on display names ("ada" finds "Ada Lovelace").
CREATE INDEX users_name_prefix ON users (lower(name) text_pattern_ops) WHERE name <> '';

CREATE TABLE follows (
    follower_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
-- "Who follows X" (follower counts, cascades).
CREATE INDEX follows_followee ON follows (followee_id, follower_id);

CREATE TABLE articles (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            TEXT NOT NULL,
    author_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- Kept by a trigger on favorites, so lists never count rows.
    favorites_count INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX articles_slug_key ON articles (slug);
-- Global feed: newest first.
CREATE INDEX articles_recent ON articles (created_at DESC, id DESC);
-- An author's articles, and the follow feed (authors I follow), newest first.
CREATE INDEX articles_by_author ON articles (author_id, created_at DESC, id DESC);

CREATE TABLE tags (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           TEXT NOT NULL,
    -- Kept by a trigger on article_tags: popular tags without a GROUP BY.
    articles_count INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tags_name_key ON tags (name);
CREATE INDEX tags_popular ON tags (articles_count DESC, name) WHERE articles_count > 0;

CREATE TABLE article_tags (
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id     BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    -- Tags keep the order the author gave them.
    position   SMALLINT NOT NULL,
    PRIMARY KEY (article_id, tag_id)
);
-- Articles with a tag.
CREATE INDEX article_tags_by_tag ON article_tags (tag_id, article_id);

CREATE TABLE favorites (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, article_id)
);
-- Cascades when an article goes.
CREATE INDEX favorites_by_article ON favorites (article_id);

CREATE TABLE comments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    author_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX comments_by_article ON comments (article_id, id);
CREATE INDEX comments_by_author ON comments (author_id);

-- Counters follow their rows in the same transaction, whichever path changes
-- them (the API, the pages, or a cascade when an account is deleted).
CREATE FUNCTION favorites_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE articles SET favorites_count = favorites_count + 1 WHERE id = NEW.article_id;
    ELSE
        UPDATE articles SET favorites_count = favorites_count - 1 WHERE id = OLD.article_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER favorites_count AFTER INSERT OR DELETE ON favorites
    FOR EACH ROW EXECUTE FUNCTION favorites_count_trigger();

CREATE FUNCTION tags_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tags SET articles_count = articles_count + 1 WHERE id = NEW.tag_id;
    ELSE
        UPDATE tags SET articles_count = articles_count - 1 WHERE id = OLD.tag_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER tags_count AFTER INSERT OR DELETE ON article_tags
    FOR EACH ROW EXECUTE FUNCTION tags_count_trigger();
