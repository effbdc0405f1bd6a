-- make bench's data scale (tests/bench/run.py): messages, users, memberships and mentions written straight into the
-- dev stack's database as its owner (chat_owner), in one transaction, with every constraint of the schema in
-- force. Every block appends after a conversation's last_seq and moves last_seq and last_message_at with it, so
-- seqs stay gapless per conversation as the send path keeps them.
--
-- psql variables (psql -v):
--   phase      'small': :n_large messages (by :me and :other) in the conversation :large, :me's read marker a
--              little behind, every 100th message mentioning :me.
--              'big': :n_users users, :n_convs conversations (:me's own empty channels first, then new channels)
--              of :per_conv messages each, 10 members per conversation with read markers anywhere, 1 message in
--              50 mentioning a member (1 in 20 mentioning :me in its own conversations)
--   me, other  user ids; large  a conversation id; hash  a password hash for the seeded users
\set ON_ERROR_STOP 1
BEGIN;
SELECT :'phase' = 'small' AS small, :'phase' = 'big' AS big \gset

\if :small
INSERT INTO conversation_members (conversation_id, user_id) VALUES (:'large', :'other') ON CONFLICT DO NOTHING;
INSERT INTO messages (conversation_id, seq, sender_id, content, created_at, updated_at)
SELECT c.id, c.last_seq + g, CASE WHEN g % 2 = 0 THEN :'me'::uuid ELSE :'other'::uuid END,
       format('message %s of the large channel about topic%s and word%s', g, g % 100, g % 1000),
       now() - make_interval(secs => :n_large - g), now() - make_interval(secs => :n_large - g)
FROM conversations c, generate_series(1, :n_large) g WHERE c.id = :'large';
UPDATE conversations SET last_seq = last_seq + :n_large, last_message_at = now() WHERE id = :'large';
UPDATE conversation_members SET last_read_seq = greatest(0, :n_large - 40) WHERE conversation_id = :'large';
INSERT INTO mentions (message_id, user_id, created_at)
SELECT id, :'me', created_at FROM messages WHERE conversation_id = :'large' AND sender_id = :'other' AND seq % 100 = 1;
UPDATE users SET unread_mentions = 12 WHERE id = :'me';
\endif

\if :big
CREATE TEMP TABLE seed_users ON COMMIT DROP AS
SELECT g AS n, gen_random_uuid() AS id FROM generate_series(0, :n_users - 1) g;
INSERT INTO users (id, username, email, hashed_password, created_at, last_seen_at)
SELECT id, 'seed' || n || '_' || left(:'me', 8), 'seed' || n || '_' || left(:'me', 8) || '@example.com', :'hash',
       now() - interval '30 days', now() - make_interval(mins => n % 10000)
FROM seed_users;

-- the conversations to fill: :me's channels that have no message yet (so its unread counts and mentions grow
-- with the data), then new channels
CREATE TEMP TABLE seed_convs (n int, id uuid) ON COMMIT DROP;
INSERT INTO seed_convs
SELECT row_number() OVER (ORDER BY c.created_at, c.id) - 1, c.id
FROM conversations c JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = :'me'
WHERE c.kind = 'channel' AND c.last_seq = 0
ORDER BY c.created_at, c.id LIMIT :n_convs;
INSERT INTO seed_convs
SELECT n, gen_random_uuid() FROM generate_series((SELECT count(*) FROM seed_convs), :n_convs - 1) n;
INSERT INTO conversations (id, kind, name, creator_id, created_at)
SELECT s.id, 'channel', 'seed-' || s.n || '-' || left(:'me', 8), u.id, now() - interval '30 days'
FROM seed_convs s JOIN seed_users u ON u.n = (s.n * 10) % :n_users
ON CONFLICT (id) DO NOTHING;

-- 10 seeded members per conversation (member j of conversation n is user (n*10 + j) mod n_users)
INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, last_read_seq)
SELECT s.id, u.id, CASE WHEN j = 0 THEN 'owner' ELSE 'member' END, now() - interval '30 days',
       (c.last_seq + :per_conv) * ((s.n * 7 + j * 13) % 11) / 10
FROM seed_convs s JOIN conversations c ON c.id = s.id CROSS JOIN generate_series(0, 9) j
JOIN seed_users u ON u.n = (s.n * 10 + j) % :n_users
ON CONFLICT DO NOTHING;

INSERT INTO messages (conversation_id, seq, sender_id, content, created_at, updated_at)
SELECT s.id, c.last_seq + g, u.id,
       format('seed message %s in %s about topic%s and word%s', g, s.n, g % 100, (g + s.n) % 1000),
       now() - make_interval(secs => (:per_conv - g) * 60 + s.n), now() - make_interval(secs => (:per_conv - g) * 60 + s.n)
FROM seed_convs s JOIN conversations c ON c.id = s.id CROSS JOIN generate_series(1, :per_conv) g
JOIN seed_users u ON u.n = (s.n * 10 + g % 10) % :n_users;
UPDATE conversations c SET last_seq = c.last_seq + :per_conv, last_message_at = now() FROM seed_convs s WHERE c.id = s.id;
-- :me reads its own channels up to a few messages before the end
UPDATE conversation_members cm SET last_read_seq = c.last_seq - 5
FROM seed_convs s JOIN conversations c ON c.id = s.id WHERE cm.conversation_id = s.id AND cm.user_id = :'me';

-- mentions: of a seeded member in 1 message of 50; of :me in 1 of 20 of its own conversations
INSERT INTO mentions (message_id, user_id, created_at, notified_at)
SELECT m.id, u.id, m.created_at, m.created_at
FROM seed_convs s JOIN messages m ON m.conversation_id = s.id
JOIN seed_users u ON u.n = (s.n * 10 + (m.seq + 1) % 10) % :n_users
WHERE m.seq % 50 = 0 AND m.sender_id <> u.id;
INSERT INTO mentions (message_id, user_id, created_at)
SELECT m.id, :'me', m.created_at
FROM seed_convs s JOIN conversation_members cm ON cm.conversation_id = s.id AND cm.user_id = :'me'
JOIN messages m ON m.conversation_id = s.id
WHERE m.seq % 20 = 3 AND m.sender_id <> :'me';
UPDATE users u SET unread_mentions = least(n.c, 99)
FROM (SELECT user_id, count(*) AS c FROM mentions GROUP BY user_id) n WHERE n.user_id = u.id;
\endif
COMMIT;
ANALYZE;
