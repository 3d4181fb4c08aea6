#!/usr/bin/env node
// The `weir` executable: runs the compiled command line from dist/.
import { main } from '../dist/cli/main.js';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `weir needs Node.js 22.18 or newer (it runs TypeScript jobs natively); this is ${process.version}\n`,
  );
  process.exit(2);
}
process.exitCode = await main(process.argv.slice(2));
