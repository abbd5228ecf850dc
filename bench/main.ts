/**
 * `npm run bench -- <name>`: each benchmark runs sipsec and the named peer
 * side by side in one run and prints both and the ratio (`fleet` has no peer:
 * it sets sipsec at growing inventory sizes against issue 14's targets).
 */
const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  issue: () => import('./issue.js'),
  import: () => import('./import.js'),
  tftp: () => import('./tftp.js'),
  srtp: () => import('./srtp.js'),
  register: () => import('./register.js'),
  echo: () => import('./echo.js'),
  fleet: () => import('./fleet.js'),
  hold: () => import('./hold.js'),
};

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name || !(name in BENCHES)) {
    console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [options]`);
    process.exit(2);
  }
  const mod = await BENCHES[name]!();
  await mod.run(rest);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
