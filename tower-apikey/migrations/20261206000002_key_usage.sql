-- Requests per key and UTC hour (`hour` = Unix seconds of the hour's start), written in
-- batches with last-use times; rows older than 48 hours are pruned on write.
CREATE TABLE IF NOT EXISTS key_usage (
    key_id   TEXT NOT NULL,
    hour     BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    refused  BIGINT NOT NULL,
    PRIMARY KEY (key_id, hour)
);

CREATE INDEX IF NOT EXISTS key_usage_hour ON key_usage (hour);
