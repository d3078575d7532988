COPY (
    SELECT position, stream_id, version, event_id, event_type, schema_version, payload,
           recorded_at, correlation_id, causation_id
    FROM events
    WHERE position > {after} AND position <= {upto}
    ORDER BY position
) TO STDOUT (FORMAT binary)
