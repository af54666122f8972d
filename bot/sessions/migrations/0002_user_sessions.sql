-- Which session belongs to a client's user (the OpenAI-compatible endpoint's `user` field): one row
-- per (user, catalogue, owner key), shared by every replica; gone with its session.
CREATE TABLE user_sessions (
    client_user text NOT NULL,
    catalogue   text NOT NULL,
    owner       text NOT NULL,
    session_id  text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created     double precision NOT NULL,
    PRIMARY KEY (client_user, catalogue, owner)
);
CREATE INDEX user_sessions_session ON user_sessions (session_id);
