-- Security events: requests the perimeter blocked, bursts of blocks from one client, failed
-- sign-ins, lockouts and break-glass access.
--
-- Most events happen before authentication, so they belong to no organization and org_id is
-- NULL. This is therefore not a tenant table and has no row-level security. The admin route
-- shows an organization its own events, and events without an organization only to the
-- operator's organization (SECURITY_EVENTS_OPERATOR_ORG_ID, or the only organization when
-- that is unset and exactly one exists).

CREATE TABLE security_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL
    CHECK (kind IN ('perimeter_block', 'block_burst', 'login_failed', 'account_locked',
                    'break_glass')),
  severity text NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
  -- The control or component that raised the event: waf, rate_limit, request_limit, geo, tor,
  -- challenge, auth.
  source text NOT NULL CHECK (source ~ '^[a-z][a-z0-9_]{0,31}$'),
  client_ip inet,
  rule_ids text[] NOT NULL DEFAULT '{}'
    CHECK (cardinality(rule_ids) <= 64 AND array_position(rule_ids, NULL) IS NULL),
  location text CHECK (char_length(location) <= 200),
  -- The offending input, truncated and with personal data and credentials masked.
  sample text CHECK (char_length(sample) <= 300),
  request_id text CHECK (char_length(request_id) <= 100),
  org_id uuid,
  details jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(details) = 'object')
);

-- The report and the admin listing filter by time; retention deletes by time.
CREATE INDEX security_events_time_idx ON security_events (occurred_at);
-- Filters by rule id (`rule_ids @> ARRAY['942100']`).
CREATE INDEX security_events_rule_ids_idx ON security_events USING gin (rule_ids);
CREATE INDEX security_events_client_time_idx ON security_events (client_ip, occurred_at);
CREATE INDEX security_events_org_time_idx ON security_events (org_id, occurred_at)
  WHERE org_id IS NOT NULL;

-- Retention. The application role gets no DELETE on the table, so a compromised server can
-- not erase recent evidence of an attack. It may only call this function, which deletes
-- events older than `keep_days` days, and never fewer than 1 day: rows of the last day stay.
CREATE FUNCTION security_events_purge(keep_days integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM security_events
   WHERE occurred_at < now() - make_interval(days => GREATEST(keep_days, 1));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION security_events_purge(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION security_events_purge(integer) TO mindweave_app;

-- The id of the only organization, or NULL when there are none or several. It reads the
-- table as its owner, so row-level security on organizations cannot make one of several
-- organizations look like the only one.
CREATE FUNCTION security_events_sole_organization() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT CASE WHEN count(*) = 1 THEN (array_agg(id))[1] END FROM organizations
$$;
REVOKE ALL ON FUNCTION security_events_sole_organization() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION security_events_sole_organization() TO mindweave_app;

GRANT SELECT, INSERT ON security_events TO mindweave_app;
