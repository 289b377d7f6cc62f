-- Template versions are written without leading zeros (found reviewing version ordering).
--
-- A version was any three groups of 1–6 digits, so "01.0.0" and "1.0.0" were two versions of one
-- template that sort equal (version_sort compares the numbers), and which of them a task created
-- without a version got depended on the index's order. Semantic versioning forbids leading
-- zeros; now so do we. Templates already registered with one keep working (the constraint is
-- NOT VALID: it checks new and changed rows only).

ALTER TABLE tasker.named_tasks
  ADD CONSTRAINT named_task_version_canonical
  CHECK (version ~ '^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$') NOT VALID;

-- tasker.validate_template: 0010's body, plus the version's canonical form. Returns the template
-- normalised with defaults, or raises TK001/TK002 naming the template, step and field (a version
-- with a leading zero names the field `version`). Changes nothing.
CREATE OR REPLACE FUNCTION tasker.validate_template(p_template jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
  v_def jsonb := tasker._validate_template_fields(p_template);
  v_version text := v_def ->> 'version';
BEGIN
  IF v_version !~ '^(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})$' THEN
    PERFORM tasker._template_error(
      format('%s/%s@%s', v_def ->> 'namespace', v_def ->> 'name', v_version), 'version',
      format('%s is not valid: a version is MAJOR.MINOR.PATCH without leading zeros, e.g. 1.0.0', to_jsonb(v_version)::text));
  END IF;
  PERFORM tasker._check_batch_steps(v_def);
  RETURN v_def;
END
$$;
