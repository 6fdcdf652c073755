/**
 * Regenerates `src/hamustro/gen/` from `src/hamustro/proto/hamustro.proto`
 * with buf and protoc-gen-es (protobuf-es v2), both fetched from npm by npx
 * at pinned versions, so the committed code is reproducible.
 *
 * Run: `deno task gen:proto`
 */

const BUF = "@bufbuild/buf@1.75.0";
const PROTOC_GEN_ES = "@bufbuild/protoc-gen-es@2.17.0";
const PROTO_DIR = "src/hamustro/proto";
const OUT_DIR = "src/hamustro/gen";

// `import_extension=.ts` lets Deno load the generated imports as-is.
const template = {
  version: "v2",
  clean: true,
  plugins: [{
    local: "protoc-gen-es",
    out: OUT_DIR,
    opt: ["target=ts", "import_extension=.ts"],
  }],
};

const root = new URL("..", import.meta.url);
const command = new Deno.Command("npx", {
  args: [
    "-y",
    "-p",
    BUF,
    "-p",
    PROTOC_GEN_ES,
    "buf",
    "generate",
    PROTO_DIR,
    "--template",
    JSON.stringify(template),
  ],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
});
const { code } = await command.output();
if (code !== 0) {
  console.error(`buf generate failed with exit code ${code}`);
  Deno.exit(code);
}
console.log(`Generated ${OUT_DIR}/ from ${PROTO_DIR}/`);
