import { parseArgs } from "node:util";
import { gpuProviderPlan, installedGpuProviderFiles, installGpuProvider, removeGpuProvider } from "../core";
import { UsageError } from "./args";

export const GPU_USAGE = `sam3 gpu status | install [--feed URL] | remove

  status    whether onnxruntime-node's CUDA 12 provider libraries are in place
  install   download them (Linux x64): onnxruntime's GPU NuGet package (several hundred MB) from api.nuget.org,
            or from a mirror of that feed (--feed https://.../v3/index.json); only the provider libraries are kept,
            in onnxruntime-node's own folder. They need CUDA 12 and cuDNN 9 on the library path to run.
  remove    delete them again (reinstalling the package removes them too)`;

export async function gpuCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { feed: { type: "string" } } });
  const [action, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" (see sam3 gpu --help)`);
  if (action === "status") {
    const plan = gpuProviderPlan();
    const present = installedGpuProviderFiles();
    process.stdout.write(`${present.length === plan.files.length ? "installed" : present.length ? "partly installed" : "not installed"}: ${plan.package} provider libraries in ${plan.folder}\n`);
    return;
  }
  if (action === "install") {
    const plan = gpuProviderPlan(values.feed);
    // what is about to happen, before anything is fetched
    process.stderr.write(
      `downloading ${plan.package} (several hundred MB) from ${plan.source}\n` +
        `keeping ${plan.files.join(", ")} in ${plan.folder}\n` +
        `undo with: npx sam3 gpu remove\n`,
    );
    await installGpuProvider(values.feed);
    process.stdout.write(`CUDA 12 provider installed: use --device cuda (needs CUDA 12 and cuDNN 9 on the library path)\n`);
    return;
  }
  if (action === "remove") {
    const removed = removeGpuProvider();
    process.stdout.write(removed.length ? `removed ${removed.join(", ")}\n` : "no CUDA provider libraries to remove\n");
    return;
  }
  throw new UsageError(action ? `unknown gpu action "${action}" (status, install or remove)` : "give an action: sam3 gpu status | install | remove");
}
