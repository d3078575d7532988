-- One group commit in one statement: every part is a data-modifying CTE, so the whole
-- batch is one implicit transaction and one round trip. Empty arrays write nothing.
-- A unique violation anywhere (a stream version taken, a message already applied, an
-- idempotency key already used) refuses the whole statement.
WITH appended AS (
    INSERT INTO events (stream_id, version, event_id, event_type, schema_version, payload,
                        recorded_at, correlation_id, causation_id, traceparent)
    SELECT * FROM UNNEST($1::text[], $2::int8[], $3::uuid[], $4::text[], $5::int2[], $6::bytea[],
                         $7::timestamptz[], $8::uuid[], $9::uuid[], $10::text[])
    RETURNING position
), published AS (
    INSERT INTO outbox (message_id, topic, message_key, message_type, payload, headers, created_at)
    SELECT * FROM UNNEST($11::uuid[], $12::text[], $13::text[], $14::text[], $15::bytea[],
                         $16::text[], $17::timestamptz[])
), checkpointed AS (
    INSERT INTO inbox_checkpoints (consumer, source, tx, id, record_digest, record_timestamp)
    SELECT * FROM UNNEST($18::text[], $19::text[], $20::int8[], $21::int8[], $34::int8[], $35::int8[])
    ON CONFLICT (consumer, source) DO UPDATE
    SET tx = EXCLUDED.tx, id = EXCLUDED.id,
        record_digest = EXCLUDED.record_digest, record_timestamp = EXCLUDED.record_timestamp
    WHERE (EXCLUDED.tx, EXCLUDED.id) > (inbox_checkpoints.tx, inbox_checkpoints.id)
), received AS (
    INSERT INTO inbox_messages (consumer, message_id, recorded_at)
    SELECT c, m, $24 FROM UNNEST($22::text[], $23::text[]) AS t(c, m)
), answered AS (
    INSERT INTO command_replies (idempotency_key, reply, recorded_at)
    SELECT k, r, $24 FROM UNNEST($25::text[], $26::bytea[]) AS t(k, r)
), parked AS (
    INSERT INTO parked_messages (consumer, message, reason, parked_at)
    SELECT c, m, r, $24 FROM UNNEST($27::text[], $28::bytea[], $29::text[]) AS t(c, m, r)
), unparked AS (
    DELETE FROM parked_messages p
    USING UNNEST($30::int8[]) AS u(id)
    WHERE p.id = u.id
), projected AS (
    INSERT INTO projections (name, key, value, updated_at)
    SELECT n, k, v, $24 FROM UNNEST($31::text[], $32::text[], $33::bytea[]) AS t(n, k, v)
    ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
)
SELECT MAX(position) FROM appended
