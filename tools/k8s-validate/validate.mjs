// Offline validation of Kubernetes manifests, no cluster and no network:
//  1. schema: every document is checked against the Kubernetes API's JSON schema for its apiVersion/kind, as
//     compiled into kubernetes-models (types, required fields, enums, formats such as int32 and quantities);
//  2. strict: those schemas allow unknown fields (the API server drops or refuses them), so a typo such as
//     `readinesProbe` would pass step 1. Each document is also type-checked by the TypeScript compiler against the
//     package's interfaces, whose excess-property check names every unknown field.
// Multus NetworkAttachmentDefinitions (a CRD) are checked only for a name and a CNI config that parses as JSON.
// Usage: node validate.mjs FILE.yaml... ; exit 0 when every document is valid, 1 otherwise.
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
let failures = 0;
let documents = 0;
const strictChecks = [];

function modulePath(apiVersion) {
  // "v1" is the core group; "apps/v1", "policy/v1", "networking.k8s.io/v1" name their group.
  return apiVersion.includes("/") ? `kubernetes-models/${apiVersion}` : `kubernetes-models/v1`;
}

for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const [index, doc] of docs.entries()) {
    const where = `${file}#${index + 1}`;
    if (doc.errors.length > 0) {
      console.error(`${where}: YAML: ${doc.errors.map((e) => e.message).join("; ")}`);
      failures++;
      continue;
    }
    const data = doc.toJS();
    if (data === null || data === undefined) {
      continue;
    }
    documents++;
    const { apiVersion, kind } = data;
    if (typeof apiVersion !== "string" || typeof kind !== "string") {
      console.error(`${where}: no apiVersion or kind`);
      failures++;
      continue;
    }
    if (apiVersion === "k8s.cni.cncf.io/v1" && kind === "NetworkAttachmentDefinition") {
      // Multus's CRD, outside the built-in schemas: its name, and its CNI config must parse as JSON and name a type.
      try {
        const cni = JSON.parse(data.spec?.config ?? "");
        if (!data.metadata?.name || typeof cni.type !== "string") throw new Error("no metadata.name or CNI type");
      } catch (e) {
        console.error(`${where}: NetworkAttachmentDefinition: ${e.message}`);
        failures++;
      }
      continue;
    }
    let Model;
    try {
      Model = (await import(modulePath(apiVersion)))[kind];
    } catch {
      Model = undefined;
    }
    if (Model === undefined || Model.apiVersion !== apiVersion) {
      console.error(`${where}: ${apiVersion} ${kind} is not a built-in Kubernetes kind this validator knows`);
      failures++;
      continue;
    }
    try {
      new Model(data).validate();
    } catch (e) {
      console.error(`${where}: ${kind} ${data.metadata?.name ?? ""}: ${e.message}`);
      failures++;
      continue;
    }
    strictChecks.push({ where, kind, apiVersion, data });
  }
}

// Strict pass: one TypeScript file, one typed constant per document.
if (strictChecks.length > 0) {
  // Inside this folder, so that the imports resolve to its node_modules.
  const dir = mkdtempSync(join(here, ".check-"));
  try {
    const lines = strictChecks.map((c, i) =>
      `// ${c.where}\nimport type { I${c.kind} as T${i} } from "${modulePath(c.apiVersion)}/${c.kind}";\n` +
      `export const d${i}: T${i} = ${JSON.stringify(c.data, null, 1)};\n`);
    const source = join(dir, "manifests.ts");
    writeFileSync(source, lines.join("\n"));
    const program = ts.createProgram([source], {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      typeRoots: [],
    });
    if (process.env.K8S_VALIDATE_DEBUG) console.error(`strict: ${program.getSourceFiles().length} source files`);
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === source || !d.file);
    for (const d of diagnostics) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
      let where = "";
      if (d.file && d.start !== undefined) {
        // Name the document the error is in, from the comment above its constant.
        const before = d.file.text.slice(0, d.start);
        const marker = before.lastIndexOf("\n// ");
        where = before.slice(marker + 4, before.indexOf("\n", marker + 1)) + ": ";
      }
      console.error(`${where}strict: ${message}`);
      failures++;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`k8s-validate: ${documents} documents, ${failures} problems`);
process.exit(failures === 0 && documents > 0 ? 0 : 1);
