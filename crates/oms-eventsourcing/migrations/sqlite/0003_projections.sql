-- Read models a service keeps of what other services publish.
CREATE TABLE projections (
    name        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       BLOB    NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (name, key)
);
