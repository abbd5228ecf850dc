/**
 * `npm run interop -- <peer> [options]`: sipsec against a real third-party
 * server that CI cannot install (built from source), outside `npm test`.
 */
const RUNS: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  asterisk: () => import('./asterisk.js'),
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || !(name in RUNS)) {
    console.error(`usage: npm run interop -- <${Object.keys(RUNS).join('|')}> [--prefix DIR] [--keep]`);
    process.exit(2);
  }
  await (await RUNS[name]!()).run(rest);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
