-- Read models a service keeps of what other services publish (e.g. routing's view of
-- available-to-promise), written with the inbox checkpoint of the messages they come from.
CREATE TABLE projections (
    name        TEXT        NOT NULL,
    key         TEXT        NOT NULL,
    value       BYTEA       NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (name, key)
);
