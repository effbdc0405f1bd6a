-- 001: the whole data model. A channel, a direct and a group conversation are all conversations.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username        text NOT NULL,
    email           text NOT NULL,
    hashed_password text NOT NULL,
    avatar          text,
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'moderator', 'admin')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'banned')),
    status_reason   text,
    status_until    timestamptz,               -- end of a timed ban or suspension (NULL: until lifted)
    is_active       boolean NOT NULL DEFAULT true,
    is_online       boolean NOT NULL DEFAULT false,
    last_seen_at    timestamptz,
    unread_mentions integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Uniqueness is case-insensitive; the same expressions serve login and search.
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));
CREATE INDEX users_username_trgm ON users USING gin (lower(username) gin_trgm_ops);

-- A session lives from login to logout and is kept across refreshes; its id is the tokens' `sid`.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),
    user_agent    text,
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Refresh tokens are stored as SHA-256 digests; a used one stays to detect reuse.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

CREATE TABLE conversations (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text NOT NULL CHECK (kind IN ('channel', 'direct', 'group')),
    name            text,                      -- channel name or group title
    description     text,
    is_private      boolean NOT NULL DEFAULT false,
    is_archived     boolean NOT NULL DEFAULT false,
    creator_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    direct_key      text UNIQUE,               -- "<smaller uuid>:<larger uuid>" for a direct pair
    last_seq        bigint NOT NULL DEFAULT 0, -- the seq of the newest message; bumped in the send transaction
    last_message_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'channel' OR name IS NOT NULL)
);
CREATE UNIQUE INDEX conversations_channel_name_key ON conversations (lower(name)) WHERE kind = 'channel';
CREATE INDEX conversations_activity_idx ON conversations (coalesce(last_message_at, created_at) DESC);

CREATE TABLE conversation_members (
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_at       timestamptz NOT NULL DEFAULT now(),
    last_read_seq   bigint NOT NULL DEFAULT 0,   -- the read marker only moves forward
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_user_idx ON conversation_members (user_id, conversation_id);

CREATE TABLE messages (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    sender_id       uuid NOT NULL REFERENCES users (id),
    content         text NOT NULL,
    message_type    text NOT NULL DEFAULT 'text' CHECK (message_type IN ('text', 'image', 'file', 'system')),
    media_url       text,
    parent_id       uuid REFERENCES messages (id),
    reply_count     integer NOT NULL DEFAULT 0,
    is_edited       boolean NOT NULL DEFAULT false,
    deleted_at      timestamptz,
    deleted_by      uuid REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    search_vector   tsvector GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED,
    UNIQUE (conversation_id, seq)
);
CREATE INDEX messages_live_seq_idx ON messages (conversation_id, seq) WHERE deleted_at IS NULL;
CREATE INDEX messages_parent_idx ON messages (parent_id, seq) WHERE parent_id IS NOT NULL;
CREATE INDEX messages_search_idx ON messages USING gin (search_vector);

CREATE TABLE reactions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    message_id  uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (message_id, user_id, emoji)
);

CREATE TABLE mentions (
    message_id   uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    notified_at  timestamptz,
    PRIMARY KEY (message_id, user_id)
);
CREATE INDEX mentions_user_idx ON mentions (user_id, created_at DESC);

-- Send idempotency: a key (Idempotency-Key header or client_msg_id) per user, kept 24 h.
CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash text NOT NULL,
    message_id   uuid REFERENCES messages (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Events and jobs written in the same transaction as the change, appended to their Redis stream
-- after commit. `shard` (0-15, from the conversation id) lets relays of different conversations run
-- in parallel while each conversation's entries keep their order (docs/events.md).
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    stream          text NOT NULL CHECK (stream IN ('events', 'jobs')),
    shard           smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    conversation_id uuid,
    event_type      text NOT NULL,
    audience        text NOT NULL CHECK (audience IN ('conversation', 'everyone', 'users')),
    user_ids        text NOT NULL DEFAULT '',  -- comma-separated extra (or, for 'users', the only) recipients
    payload         text NOT NULL,             -- the event exactly as clients receive it, without event_id
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_shard_idx ON outbox (shard, id);

CREATE TABLE notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    message_id  uuid REFERENCES messages (id) ON DELETE CASCADE,
    payload     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    UNIQUE (user_id, kind, message_id)
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    action      text NOT NULL,
    target_id   uuid,
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC);

-- The default channels exist from the start; the first registered user becomes their creator.
INSERT INTO conversations (kind, name, description, is_private)
VALUES ('channel', 'general', 'Company-wide announcements and work-based matters', false),
       ('channel', 'random', 'Non-work banter and water cooler conversation', false),
       ('channel', 'announcements', 'Important announcements', false)
ON CONFLICT DO NOTHING;
