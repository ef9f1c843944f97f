//! Table definitions for diesel's query builder, matching `migrations/`.

diesel::table! {
    app_servers (name) {
        name -> Text,
        release -> Text,
        started_at -> Timestamptz,
        seen_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        name -> Text,
        bio -> Text,
        image -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        session_generation -> Int4,
        articles_count -> Int4,
        favorites_count -> Int4,
        followers_count -> Int4,
        following_count -> Int4,
    }
}

diesel::table! {
    follows (follower_id, followee_id) {
        follower_id -> Int8,
        followee_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    articles (id) {
        id -> Int8,
        slug -> Text,
        author_id -> Int8,
        title -> Text,
        description -> Text,
        body -> Text,
        favorites_count -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        body_html -> Nullable<Text>,
    }
}

diesel::table! {
    tags (id) {
        id -> Int8,
        name -> Text,
        articles_count -> Int4,
    }
}

diesel::table! {
    article_tags (article_id, tag_id) {
        article_id -> Int8,
        tag_id -> Int8,
        position -> Int2,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    favorites (user_id, article_id) {
        user_id -> Int8,
        article_id -> Int8,
        created_at -> Timestamptz,
        article_created_at -> Timestamptz,
    }
}

diesel::table! {
    comments (id) {
        id -> Int8,
        article_id -> Int8,
        author_id -> Int8,
        body -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    article_counts (shard) {
        shard -> Int2,
        articles -> Int8,
    }
}

diesel::table! {
    revoked_sessions (id) {
        id -> Text,
        user_id -> Int8,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(articles -> users (author_id));
diesel::joinable!(revoked_sessions -> users (user_id));
diesel::joinable!(article_tags -> articles (article_id));
diesel::joinable!(article_tags -> tags (tag_id));
diesel::joinable!(favorites -> articles (article_id));
diesel::joinable!(favorites -> users (user_id));
diesel::joinable!(comments -> articles (article_id));
diesel::joinable!(comments -> users (author_id));

diesel::allow_tables_to_appear_in_same_query!(
    app_servers,
    users,
    follows,
    articles,
    tags,
    article_tags,
    favorites,
    comments,
    revoked_sessions,
    article_counts,
);

diesel::define_sql_function! {
    /// SQL `lower(text)`: matches the case-insensitive indexes on usernames and emails.
    #[sql_name = "lower"]
    fn lower_text(value: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
