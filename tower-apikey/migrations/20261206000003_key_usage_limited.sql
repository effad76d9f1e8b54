-- Of the accepted requests per key and hour, those a rate limit or quota refused next.
ALTER TABLE key_usage ADD COLUMN limited BIGINT NOT NULL DEFAULT 0;
