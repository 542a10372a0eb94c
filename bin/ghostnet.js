#!/usr/bin/env node
// Runs the compiled CLI (dist/ is built by `npm ci` through the `prepare` script).
let cli;
try {
  cli = await import('../dist/cli/main.js');
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write("ghostnet: the build is missing; run 'npm run build' first\n");
    process.exit(1);
  }
  throw err;
}
process.exitCode = await cli.main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
