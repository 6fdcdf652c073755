// `npm pack` / `npm publish` hooks of the built package (copied into npm/ by scripts/build_npm.ts):
// `strip` (prepack) keeps the development manifest aside and writes the published one, without
// `scripts` (its test script names test files that are not shipped) and `devDependencies`;
// `restore` (postpack) puts the development manifest back.
import { readFileSync, renameSync, writeFileSync } from "node:fs";

const MANIFEST = "package.json";
const DEVELOPMENT = ".package.development.json";

const command = process.argv[2];
if (command === "strip") {
  const manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  renameSync(MANIFEST, DEVELOPMENT);
  delete manifest.scripts;
  delete manifest.devDependencies;
  writeFileSync(MANIFEST, JSON.stringify(manifest, null, 2) + "\n");
} else if (command === "restore") {
  renameSync(DEVELOPMENT, MANIFEST);
} else {
  throw new TypeError(
    `Cannot run pack_manifest.mjs as the command must be 'strip' or 'restore': current value is ${command}`,
  );
}
