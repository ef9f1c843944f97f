-- Lists at any size cost what they cost on an empty site: every count a list
-- shows is read from a counter kept in the same transaction as the write,
-- and every list is an index walk in the order it is shown.

-- The number of articles on the site, spread over 16 rows so that
-- concurrent writers (each on its own connection) rarely wait for one
-- another; readers add the 16 up.
CREATE TABLE article_counts (
    shard    SMALLINT PRIMARY KEY,
    articles BIGINT NOT NULL DEFAULT 0
);
INSERT INTO article_counts (shard) SELECT generate_series(0, 15);

-- What each person wrote and favorited, for their profile's lists; their
-- followers and followings, for profiles and the people directory.
ALTER TABLE users ADD COLUMN articles_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN favorites_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN followers_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN following_count INTEGER NOT NULL DEFAULT 0;

-- Sets every list counter from the rows it counts: once here, and by the
-- seeder, which writes rows with the triggers off.
CREATE FUNCTION recount_list_counters() RETURNS void LANGUAGE sql AS $$
    UPDATE tags t SET articles_count = c.n
      FROM (SELECT tag_id, count(*)::int AS n FROM article_tags GROUP BY tag_id) c
     WHERE t.id = c.tag_id AND t.articles_count <> c.n;
    UPDATE users u SET articles_count = c.n
      FROM (SELECT author_id, count(*)::int AS n FROM articles GROUP BY author_id) c
     WHERE u.id = c.author_id AND u.articles_count <> c.n;
    UPDATE users u SET favorites_count = c.n
      FROM (SELECT user_id, count(*)::int AS n FROM favorites GROUP BY user_id) c
     WHERE u.id = c.user_id AND u.favorites_count <> c.n;
    UPDATE users u SET followers_count = c.n
      FROM (SELECT followee_id, count(*)::int AS n FROM follows GROUP BY followee_id) c
     WHERE u.id = c.followee_id AND u.followers_count <> c.n;
    UPDATE users u SET following_count = c.n
      FROM (SELECT follower_id, count(*)::int AS n FROM follows GROUP BY follower_id) c
     WHERE u.id = c.follower_id AND u.following_count <> c.n;
    UPDATE article_counts SET articles = CASE shard WHEN 0 THEN (SELECT count(*) FROM articles) ELSE 0 END;
$$;
SELECT recount_list_counters();

-- One statement updates both people, locking them in id order.
CREATE FUNCTION follows_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    step INTEGER;
    follower BIGINT;
    followee BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        step := 1; follower := NEW.follower_id; followee := NEW.followee_id;
    ELSE
        step := -1; follower := OLD.follower_id; followee := OLD.followee_id;
    END IF;
    UPDATE users
       SET followers_count = followers_count + CASE WHEN id = followee THEN step ELSE 0 END,
           following_count = following_count + CASE WHEN id = follower THEN step ELSE 0 END
     WHERE id IN (follower, followee);
    RETURN NULL;
END $$;
CREATE TRIGGER follows_count AFTER INSERT OR DELETE ON follows
    FOR EACH ROW EXECUTE FUNCTION follows_count_trigger();

CREATE FUNCTION articles_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- The person before the count: the lock order of src/models/lock_order.rs.
    IF TG_OP = 'INSERT' THEN
        UPDATE users SET articles_count = articles_count + 1 WHERE id = NEW.author_id;
        UPDATE article_counts SET articles = articles + 1 WHERE shard = pg_backend_pid() % 16;
    ELSE
        UPDATE users SET articles_count = articles_count - 1 WHERE id = OLD.author_id;
        UPDATE article_counts SET articles = articles - 1 WHERE shard = pg_backend_pid() % 16;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER articles_count AFTER INSERT OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION articles_count_trigger();

CREATE OR REPLACE FUNCTION favorites_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE articles SET favorites_count = favorites_count + 1 WHERE id = NEW.article_id;
        UPDATE users SET favorites_count = favorites_count + 1 WHERE id = NEW.user_id;
    ELSE
        UPDATE articles SET favorites_count = favorites_count - 1 WHERE id = OLD.article_id;
        UPDATE users SET favorites_count = favorites_count - 1 WHERE id = OLD.user_id;
    END IF;
    RETURN NULL;
END $$;

-- A tag's articles newest first, straight from one index: each tagging
-- carries its article's publication time.
ALTER TABLE article_tags ADD COLUMN created_at TIMESTAMPTZ;
UPDATE article_tags t SET created_at = a.created_at FROM articles a WHERE a.id = t.article_id;
ALTER TABLE article_tags ALTER COLUMN created_at SET NOT NULL;
CREATE INDEX article_tags_recent ON article_tags (tag_id, created_at DESC, article_id DESC);
DROP INDEX article_tags_by_tag;

-- Someone's favorites newest first (by the article's publication time),
-- the same way.
ALTER TABLE favorites ADD COLUMN article_created_at TIMESTAMPTZ;
UPDATE favorites f SET article_created_at = a.created_at FROM articles a WHERE a.id = f.article_id;
ALTER TABLE favorites ALTER COLUMN article_created_at SET NOT NULL;
CREATE INDEX favorites_recent ON favorites (user_id, article_created_at DESC, article_id DESC);

-- Whoever inserts a tagging or a favorite (the app, a cascade, a script)
-- need not know the article's time: it is copied here.
CREATE FUNCTION copy_article_time_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'article_tags' AND NEW.created_at IS NULL THEN
        NEW.created_at := (SELECT created_at FROM articles WHERE id = NEW.article_id);
    ELSIF TG_TABLE_NAME = 'favorites' AND NEW.article_created_at IS NULL THEN
        NEW.article_created_at := (SELECT created_at FROM articles WHERE id = NEW.article_id);
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER article_tags_time BEFORE INSERT ON article_tags
    FOR EACH ROW EXECUTE FUNCTION copy_article_time_trigger();
CREATE TRIGGER favorites_time BEFORE INSERT ON favorites
    FOR EACH ROW EXECUTE FUNCTION copy_article_time_trigger();

-- The people directory walks a username index and a name index in one
-- order (bytes, the C collation) from a cursor, so any page of it is cheap.
CREATE INDEX users_username_search ON users (lower(username), id);
CREATE INDEX users_name_search ON users ((lower(name) COLLATE "C"), id) WHERE name <> '';
DROP INDEX users_name_prefix;

-- Articles render their Markdown once, when written; NULL for rows written
-- before this column existed, which are rendered when shown.
ALTER TABLE articles ADD COLUMN body_html TEXT;
