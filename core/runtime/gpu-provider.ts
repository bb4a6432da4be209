import { existsSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { asSam3Error, Sam3Error } from "../errors";

/**
 * onnxruntime-node's CUDA 12 provider, which its npm package does not bundle: the same files its install script
 * fetches, fetched with its own helpers (script/install-utils.js, install-metadata.js) on request instead of at
 * install time.
 */

/** What onnxruntime-node's install-metadata.js describes (CommonJS without types). */
interface InstallMetadata {
  manifests: Record<string, Record<string, { package: string; path: string }>>;
  packages: Record<string, { name: string; versions: { feed: string; version: string }[] }>;
  feeds: Record<string, { type: string; index: string }>;
}
interface InstallUtils {
  installPackages(packages: Set<unknown>, manifests: { filepath: string; packagesInfo: unknown; pathInPackage: string }[], feeds: InstallMetadata["feeds"]): Promise<void>;
}

const PLATFORM = `${process.platform}/${process.arch}`;

/** onnxruntime-node's folder and install metadata, read on first use (importing core must not depend on them). */
function onnxruntimeInstall(): { dir: string; metadata: InstallMetadata; manifest: InstallMetadata["manifests"][string] } {
  const dir = dirname(require.resolve("onnxruntime-node/package.json"));
  const metadata = require(join(dir, "script", "install-metadata.js")) as InstallMetadata;
  const manifest = metadata.manifests[`${PLATFORM}:cuda12`];
  if (!manifest) {
    throw new Sam3Error("BAD_OPTION", `onnxruntime-node has no CUDA provider download for ${PLATFORM} (Linux x64 only); the CPU provider is bundled`);
  }
  return { dir, metadata, manifest };
}

/** What `sam3 gpu install` downloads and where it puts it, for the user to read before it starts. */
export interface GpuProviderPlan {
  /** NuGet package and version, e.g. Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.1. */
  package: string;
  /** The NuGet feed's index URL. */
  source: string;
  /** The folder the provider libraries go to: onnxruntime-node's own binaries folder. */
  folder: string;
  files: string[];
}

export function gpuProviderPlan(feedIndex?: string): GpuProviderPlan {
  const { dir, metadata, manifest } = onnxruntimeInstall();
  const info = metadata.packages[Object.values(manifest)[0].package];
  const version = info.versions[0];
  return {
    package: `${info.name} ${version.version}`,
    source: checkedFeed(feedIndex) ?? metadata.feeds[version.feed].index,
    folder: join(dir, "bin", "napi-v6", PLATFORM),
    files: Object.keys(manifest).map((file) => basename(file)),
  };
}

/** The provider files already in place. */
export function installedGpuProviderFiles(): string[] {
  const plan = gpuProviderPlan();
  return plan.files.filter((file) => existsSync(join(plan.folder, file)));
}

/** Downloads the provider into onnxruntime-node's folder; a failure removes what it added and says why. */
export async function installGpuProvider(feedIndex?: string): Promise<void> {
  const plan = gpuProviderPlan(feedIndex);
  const { dir, metadata, manifest } = onnxruntimeInstall();
  const before = new Set(installedGpuProviderFiles());
  // every feed the metadata names points at the chosen index (api.nuget.org unless a mirror was given)
  const feeds = Object.fromEntries(Object.entries(metadata.feeds).map(([name, feed]) => [name, { ...feed, index: plan.source }]));
  const utils = require(join(dir, "script", "install-utils.js")) as InstallUtils;
  const packages = new Set(Object.values(manifest).map((entry) => metadata.packages[entry.package]));
  const manifests = Object.entries(manifest).map(([file, entry]) => ({
    filepath: join(plan.folder, file),
    packagesInfo: metadata.packages[entry.package],
    pathInPackage: entry.path,
  }));
  try {
    await utils.installPackages(packages, manifests, feeds);
  } catch (e) {
    for (const file of plan.files) if (!before.has(file)) rmSync(join(plan.folder, file), { force: true });
    throw downloadFailure(e, new URL(plan.source).host);
  }
}

/** Deletes the provider files; returns the ones it removed. */
export function removeGpuProvider(): string[] {
  const plan = gpuProviderPlan();
  const present = installedGpuProviderFiles();
  for (const file of present) rmSync(join(plan.folder, file), { force: true });
  return present;
}

/** A mirror of the NuGet v3 feed must be an https URL (onnxruntime-node's helpers speak https only). */
function checkedFeed(feedIndex: string | undefined): string | undefined {
  if (feedIndex === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(feedIndex);
  } catch {
    url = undefined;
  }
  if (url?.protocol !== "https:") throw new Sam3Error("BAD_OPTION", "the feed must be the https URL of a NuGet v3 index (like https://api.nuget.org/v3/index.json)");
  return url.href;
}

const NETWORK_REASONS: Record<string, string> = {
  ENOTFOUND: "the host name does not resolve (offline?)",
  EAI_AGAIN: "the host name does not resolve (offline?)",
  ECONNREFUSED: "the connection was refused",
  ECONNRESET: "the connection was reset",
  ETIMEDOUT: "the connection timed out",
  ENETUNREACH: "the network is unreachable",
  EHOSTUNREACH: "the host is unreachable",
};

/** The failure in a few words: the host and the reason, never a local path or the helpers' own messages. */
function downloadFailure(e: unknown, host: string): Sam3Error {
  const doing = `downloading onnxruntime's CUDA 12 provider from ${host}`;
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? "";
  const message = e instanceof Error ? e.message : "";
  const status = /HTTP status code = (\d+)/.exec(message)?.[1];
  const reason =
    NETWORK_REASONS[code] ??
    (code.startsWith("CERT_") || code.includes("CERT") ? "the server's certificate was not accepted" : undefined) ??
    (status ? `the server answered HTTP ${status}` : undefined) ??
    (/Nuget index|PackageBaseAddress/.test(message) ? "the feed's index could not be read" : undefined) ??
    (/package versions|resolve package/.test(message) ? "the feed does not have this version of the package" : undefined);
  if (reason) return new Sam3Error("DOWNLOAD_FAILED", `${doing} failed: ${reason}; nothing was installed`, { cause: e });
  return asSam3Error(e, doing);
}
