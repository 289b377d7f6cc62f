/**
 * A one-line description of anything thrown. Node reports some network failures as an
 * AggregateError with an empty message (one error per address tried), so those are
 * unpacked rather than printed as nothing.
 */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(describeError))].join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.message !== '') return error.message;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}

/** The `code` of an error (errno name or SQLSTATE), looking into AggregateError members. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof AggregateError) {
    for (const member of error.errors) {
      const code = errorCode(member);
      if (code !== undefined) return code;
    }
  }
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
