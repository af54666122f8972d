-- Sessions, their messages and feedback. Times are Unix seconds (double precision), as in the
-- SQLite store; JSON documents are jsonb.
CREATE TABLE sessions (
    id        text PRIMARY KEY,
    catalogue text NOT NULL,
    state     jsonb NOT NULL,
    meta      jsonb NOT NULL DEFAULT '{}',
    created   double precision NOT NULL,
    updated   double precision NOT NULL
);
CREATE INDEX sessions_updated ON sessions (updated DESC);

CREATE TABLE messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role       text NOT NULL,
    text       text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}',
    created    double precision NOT NULL
);
CREATE INDEX messages_session ON messages (session_id, id);

CREATE TABLE feedback (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    target     text NOT NULL,
    created    double precision NOT NULL
);
CREATE INDEX feedback_session ON feedback (session_id, id);
