-- A Mastodon status's content warning (the API's `spoiler_text`): the status is shown folded
-- behind it. It is part of the post's content, so every version keeps the warning it had.
ALTER TABLE posts ADD COLUMN content_warning TEXT;
ALTER TABLE post_versions ADD COLUMN content_warning TEXT;
