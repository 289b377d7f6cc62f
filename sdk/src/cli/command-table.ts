/** A table of commands or subcommands by name. */
export type CommandTable = Readonly<Record<string, (args: readonly string[]) => Promise<number>>>;

/**
 * The command named `name`, or undefined. Only the table's own entries count: a plain object
 * also answers to `toString` or `constructor`, which must be unknown commands, not crashes.
 */
export function commandNamed(table: CommandTable, name: string): ((args: readonly string[]) => Promise<number>) | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}
