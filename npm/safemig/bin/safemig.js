#!/usr/bin/env node
// Runs the prebuilt safemig binary of this platform, from the optional
// dependency npm installed for it (@safemig/<platform>-<arch>), as esbuild and
// squawk do: no Rust toolchain needed.
"use strict";
const { spawnSync } = require("child_process");
const path = require("path");

const name = `@safemig/${process.platform}-${process.arch}`;
const exe = process.platform === "win32" ? "safemig.exe" : "safemig";
let binary;
try {
  binary = path.join(path.dirname(require.resolve(`${name}/package.json`)), "bin", exe);
} catch (e) {
  console.error(
    `safemig: no prebuilt binary for ${process.platform}-${process.arch} (the package ${name} is not installed).\n` +
      "  hint: reinstall without --no-optional, or build it from source: cargo install --locked --path crates/safemig"
  );
  process.exit(2);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  console.error(`safemig: cannot run ${binary}: ${result.error.message}`);
  process.exit(2);
}
process.exit(result.status === null ? 1 : result.status);
