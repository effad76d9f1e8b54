-- A key's tenant, metadata (a JSON object, as text) and its own rate and quota
-- (`N/s`, `N/m`, `N/day`, `N/month`); one statement per column for SQLite.
ALTER TABLE api_keys ADD COLUMN tenant TEXT;
ALTER TABLE api_keys ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN rate TEXT;
ALTER TABLE api_keys ADD COLUMN quota TEXT;
