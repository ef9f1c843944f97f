ALTER TABLE articles DROP COLUMN body_html;
CREATE INDEX users_name_prefix ON users (lower(name) text_pattern_ops) WHERE name <> '';
DROP INDEX users_name_search;
DROP INDEX users_username_search;
DROP TRIGGER favorites_time ON favorites;
DROP TRIGGER article_tags_time ON article_tags;
DROP FUNCTION copy_article_time_trigger();
DROP INDEX favorites_recent;
ALTER TABLE favorites DROP COLUMN article_created_at;
CREATE INDEX article_tags_by_tag ON article_tags (tag_id, article_id);
DROP INDEX article_tags_recent;
ALTER TABLE article_tags DROP COLUMN created_at;
CREATE OR REPLACE FUNCTION favorites_count_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE articles SET favorites_count = favorites_count + 1 WHERE id = NEW.article_id;
    ELSE
        UPDATE articles SET favorites_count = favorites_count - 1 WHERE id = OLD.article_id;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER articles_count ON articles;
DROP FUNCTION articles_count_trigger();
DROP TRIGGER follows_count ON follows;
DROP FUNCTION follows_count_trigger();
ALTER TABLE users DROP COLUMN following_count;
ALTER TABLE users DROP COLUMN followers_count;
ALTER TABLE users DROP COLUMN favorites_count;
ALTER TABLE users DROP COLUMN articles_count;
DROP FUNCTION recount_list_counters();
DROP TABLE article_counts;
