DROP TABLE comments, favorites, article_tags, tags, articles, follows, users;
DROP FUNCTION favorites_count_trigger();
DROP FUNCTION tags_count_trigger();
