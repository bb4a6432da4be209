#!/usr/bin/env node
// preinstall: keeps onnxruntime-node's postinstall from downloading its CUDA provider (from api.nuget.org, on Linux x64)
// when this package is installed as a dependency, as the Node-RED palette does, so that install works offline.
// npm runs every package's preinstall before any postinstall, so this runs first: it puts a gate in front of
// onnxruntime-node's install script that lets it run only when someone asks for it (ONNXRUNTIME_NODE_INSTALL or
// --onnxruntime-node-install, as onnxruntime-node documents). `npx sam3 gpu install` downloads the provider later.
// It never fails the install: anything unexpected leaves onnxruntime-node as it is.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const GATE_MARK = "@sam3-flow/node-red-sam3 gate";
const UPSTREAM = "install-upstream.js";

// the variables onnxruntime-node's install script reads (its README's opt-in and opt-out)
const FLAG_VARIABLES = ["ONNXRUNTIME_NODE_INSTALL", "ONNXRUNTIME_NODE_INSTALL_CUDA", "npm_config_onnxruntime_node_install", "npm_config_onnxruntime_node_install_cuda"];

// the gate: any of those variables, or the upstream command-line flag, hands over to the upstream script unchanged
const GATE = `// ${GATE_MARK}: the CUDA provider is downloaded only when asked for (ONNXRUNTIME_NODE_INSTALL=cuda12,
// --onnxruntime-node-install, or \`npx sam3 gpu install\`); the CPU and WebGPU providers are bundled.
"use strict";
const asked = ${JSON.stringify(FLAG_VARIABLES)}.some((name) => process.env[name]) ||
  process.argv.some((arg) => arg.startsWith("--onnxruntime-node-install"));
if (asked) require("./${UPSTREAM}");
`;

/** Whether the user set one of the variables onnxruntime-node reads: then its own script decides, untouched. */
function askedForDownload(env) {
  return FLAG_VARIABLES.some((name) => env[name]);
}

/** A dependency lives in a node_modules folder; this repository's own checkout (`npm ci`) does not, and there the
 * root package.json's allowScripts already keeps the script from running. */
function isDependency(packageDir) {
  return packageDir.split(path.sep).includes("node_modules");
}

/** Puts the gate in front of onnxruntime-node's install script; returns what it did, in a few words. */
function gateOnnxruntimeInstall(packageDir, env) {
  if (!isDependency(packageDir)) return "not installed as a dependency: nothing to do";
  if (askedForDownload(env)) return "ONNXRUNTIME_NODE_INSTALL is set: onnxruntime-node's install script runs as asked";
  let scriptDir;
  try {
    scriptDir = path.join(path.dirname(require.resolve("onnxruntime-node/package.json", { paths: [packageDir] })), "script");
  } catch {
    return "onnxruntime-node not found: nothing to do";
  }
  const script = path.join(scriptDir, "install.js");
  const current = fs.readFileSync(script, "utf8");
  if (current.includes(GATE_MARK)) return "already gated";
  // only the script this gate was written for: a different one is left alone
  if (!current.includes("parseInstallFlag") || !current.includes("install-metadata")) {
    return "onnxruntime-node's install script is not the expected one: left as it is";
  }
  // each step leaves a working install script behind, whichever one fails
  fs.copyFileSync(script, path.join(scriptDir, UPSTREAM));
  fs.writeFileSync(`${script}.gate`, GATE);
  fs.renameSync(`${script}.gate`, script);
  return "onnxruntime-node downloads its CUDA provider only on request (npx sam3 gpu install)";
}

try {
  process.stdout.write(`sam3: ${gateOnnxruntimeInstall(path.resolve(__dirname, ".."), process.env)}\n`);
} catch (e) {
  process.stdout.write(`sam3: onnxruntime-node left as it is (${e && e.code ? e.code : "unexpected failure"})\n`);
}
