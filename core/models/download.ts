import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { asSam3Error, Sam3Error } from "../errors";

export interface DownloadOptions {
  /** Lower-case hex; the file is rejected (and its partial copy removed) when it does not match. */
  sha256?: string;
  /** Sent as `Authorization: Bearer` (gated Hugging Face repositories). */
  token?: string;
  onProgress?: (bytes: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

/**
 * Downloads `url` to `dest` through `dest.part`: an interrupted transfer resumes where it stopped (HTTP Range),
 * the checksum covers the whole file, and `dest` only appears once it is complete and verified.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<void> {
  const part = `${dest}.part`;
  const have = await stat(part).then((s) => s.size, () => 0);
  const headers: Record<string, string> = {};
  if (have) headers.range = `bytes=${have}-`;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(url, { headers, signal: options.signal, redirect: "follow" });
  } catch (e) {
    throw new Sam3Error("DOWNLOAD_FAILED", `cannot reach ${new URL(url).host} for ${url}: ${causeOf(e)} (offline? set SAM3_MODEL_BASE_URL to a mirror)`, { cause: e });
  }
  if (response.status === 401 || response.status === 403) {
    throw new Sam3Error("DOWNLOAD_FAILED", `${url} refused the download (${response.status}): ${options.token ? "the token has no access; accept the model's licence on its page" : "it needs a token: set HF_TOKEN (and accept the model's licence on its page)"}`);
  }
  if (response.status === 416 && have) {
    // the partial copy is already complete: verify it as it is
  } else if (!response.ok) {
    throw new Sam3Error("DOWNLOAD_FAILED", `${url} answered ${response.status} ${response.statusText}`);
  }
  const resumed = response.status === 206;
  const start = resumed ? have : 0;
  const length = Number(response.headers.get("content-length")) || undefined;
  const total = length === undefined ? undefined : start + length;
  if (response.status !== 416) await writeBody(response, part, resumed, start, total, options);
  if (options.sha256) {
    const actual = await sha256Of(part);
    if (actual !== options.sha256.toLowerCase()) {
      await rm(part, { force: true });
      throw new Sam3Error("DOWNLOAD_FAILED", `${url} has sha256 ${actual}, expected ${options.sha256}: the partial file was removed, fetch again`);
    }
  }
  await rename(part, dest).catch((e: unknown) => Promise.reject(asSam3Error(e, "saving the download")));
}

async function writeBody(response: Response, part: string, append: boolean, start: number, total: number | undefined, options: DownloadOptions) {
  // a file handle reports a full disk as a rejected write, never as an unhandled stream 'error' event
  const out = await open(part, append ? "a" : "w").catch((e: unknown) => Promise.reject(asSam3Error(e, "saving the download")));
  let bytes = start;
  try {
    const reader = response.body!.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new Sam3Error("DOWNLOAD_FAILED", `the transfer broke off after ${bytes} bytes (${causeOf(e)}); run the same command again to resume`, { cause: e });
      }
      if (chunk.done) break;
      await out.write(chunk.value).catch((e: unknown) => Promise.reject(asSam3Error(e, "saving the download")));
      bytes += chunk.value.length;
      options.onProgress?.(bytes, total);
    }
  } finally {
    await out.close().catch(() => undefined);
  }
}

export function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", (e) => reject(asSam3Error(e, "checking the download")));
  });
}

const causeOf = (e: unknown) => {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
};
