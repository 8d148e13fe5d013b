-- A post row can be a reply draft: a reply to a comment on the platform, written by a
-- collaborator on a person's own profile, that waits for the owner's approval like a post and
-- is then sent as a reply to this comment (the platform's comment id), never as a new post.
ALTER TABLE posts ADD COLUMN reply_to TEXT;
