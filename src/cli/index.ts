/**
 * The command line: main.ts parses, commands/*.ts (one command per file)
 * call the library and print text or `--json`. No logic lives here that a
 * test could not call directly from the library.
 *
 * Top floor. May import: anything.
 */
// A map, not a barrel: import the module you need directly.
export {};
