-- tasker.uuid_v7() increases within a session on every server version, as its comment promised.
--
-- Keys made by uuid_v7() order things: a task's steps are created in template order and their
-- messages go out in step_id order (FIFO claims), batch instances likewise, and transition_id
-- orders a step's history. PostgreSQL 18's uuidv7() fills the 12 bits after the millisecond with
-- the fraction of the millisecond and keeps each session's values strictly increasing. The
-- replacement 0001 gave older servers (15 to 17) put random bits there: ids made in the same
-- millisecond came out in random order. On PostgreSQL 15 that reordered the messages of sibling
-- steps and batch instances and the history of a step's two-hop changes (the protocol tests
-- failed there; nothing on 18 changes).
--
-- tasker._uuid_v7_portable() does what 18's uuidv7() does, from clock_timestamp() and
-- gen_random_uuid(): 48 bits of Unix milliseconds, the version, 12 bits of the millisecond's
-- fraction, the variant, 62 random bits; a value not above the session's last one is replaced by
-- the last one plus one (in those 60 timestamp bits). It is defined on every version so the tests
-- can check it on any server; uuid_v7() uses it only before 18.

-- tasker._uuid_v7_portable: a version 7 uuid, strictly greater than every earlier value of this
-- function in the same session (the session's last value lives in tasker.uuid_v7_last).
CREATE FUNCTION tasker._uuid_v7_portable() RETURNS uuid
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE AS $$
DECLARE
  -- Unix time in 1/4096 ms: the 48 millisecond bits and the 12 fraction bits in one number.
  v_ticks bigint := floor(extract(epoch FROM clock_timestamp()) * 4096000)::bigint;
  v_last bigint := coalesce(nullif(current_setting('tasker.uuid_v7_last', true), '')::bigint, 0);
  v_bytes bytea := uuid_send(gen_random_uuid());
BEGIN
  IF v_ticks <= v_last THEN
    v_ticks := v_last + 1;
  END IF;
  PERFORM set_config('tasker.uuid_v7_last', v_ticks::text, false);
  v_bytes := overlay(v_bytes PLACING substring(int8send(v_ticks >> 12) FROM 3) FROM 1 FOR 6);
  v_bytes := set_byte(v_bytes, 6, 112 | ((v_ticks >> 8) & 15)::int);
  v_bytes := set_byte(v_bytes, 7, (v_ticks & 255)::int);
  RETURN encode(v_bytes, 'hex')::uuid;
END
$$;

-- tasker.uuid_v7: PostgreSQL 18's uuidv7() where it exists, else _uuid_v7_portable().
DO $$
BEGIN
  IF current_setting('server_version_num')::int < 180000 THEN
    EXECUTE $f$
      CREATE OR REPLACE FUNCTION tasker.uuid_v7() RETURNS uuid
      LANGUAGE sql VOLATILE PARALLEL UNSAFE AS 'SELECT tasker._uuid_v7_portable()'
    $f$;
  END IF;
END
$$;
