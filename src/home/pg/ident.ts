/** A PostgreSQL identifier, quoted (schema names from --store ?schema=, already checked to be plain). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
