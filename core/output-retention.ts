import { randomBytes } from "node:crypto";
import { lstat, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Sam3Error } from "./errors";

/** How long a server keeps the results it wrote, and how much of them. */
export interface RetentionPolicy {
  /** Results last written longer ago than this go; undefined keeps them whatever their age. */
  maxAgeMs?: number;
  /** Bytes of results kept at most, the oldest removed first; undefined sets no size limit. */
  maxBytes?: number;
}

/** The default: a day's results, 2 GiB at most. */
export const DEFAULT_RETENTION = "24h,2GiB";

/** Results written more recently than this may still be being written (or read back), so they always stay. */
const BUSY_MS = 60_000;

/** A job folder's name: the label, the time it was made (ms) and a random tag. Only these are ever removed. */
const JOB_FOLDER = /^[A-Za-z0-9_][A-Za-z0-9._-]*-\d{13}-[0-9a-f]{6}$/;
/** A file still being written (core/safe-write's partialName). */
const PARTIAL = /^\..+\.partial-[0-9a-f]{8}$/;

const UNITS: Record<string, ["maxAgeMs" | "maxBytes", number]> = {
  h: ["maxAgeMs", 3_600_000],
  d: ["maxAgeMs", 86_400_000],
  mib: ["maxBytes", 2 ** 20],
  gib: ["maxBytes", 2 ** 30],
};

/**
 * A retention setting as written on a command line: "off", or an age ("24h", "7d"), a size ("500MiB", "2GiB") or
 * both, comma-separated. Returns undefined for "off".
 */
export function parseRetention(spec: string): RetentionPolicy | undefined {
  const text = String(spec).trim().toLowerCase();
  if (text === "off") return undefined;
  const policy: RetentionPolicy = {};
  for (const part of text.split(",")) {
    const match = /^(\d+(?:\.\d+)?)\s*(h|d|mib|gib)$/.exec(part.trim());
    const unit = match && UNITS[match[2]];
    const value = match ? Number(match[1]) * unit![1] : NaN;
    if (!unit || !(value > 0) || policy[unit[0]] !== undefined) {
      throw new Sam3Error("BAD_OPTION", `retention "${String(spec).slice(0, 40)}" is not an age (24h, 7d), a size (500MiB, 2GiB), both ("24h,2GiB") or "off"`);
    }
    policy[unit[0]] = value;
  }
  return policy;
}

/** A fresh job folder's name for a label (made safe as one file name; never a dot name). */
export function jobFolderName(label: string, now = Date.now()): string {
  const safe = label.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[.-]+/, "").slice(0, 100) || "job";
  return `${safe}-${now}-${randomBytes(3).toString("hex")}`;
}

interface JobFolder {
  name: string;
  bytes: number;
  /** The newest modification inside it (ms). */
  newest: number;
  /** Holds a file being written. */
  writing: boolean;
}

/** A folder's size, newest change and whether a file in it is being written; links are neither followed nor counted. */
async function measure(path: string, name: string): Promise<JobFolder> {
  const job: JobFolder = { name, bytes: 0, newest: 0, writing: false };
  const walk = async (dir: string) => {
    const info = await lstat(dir);
    job.newest = Math.max(job.newest, info.mtimeMs);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (PARTIAL.test(entry.name)) job.writing = true;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        const file = await lstat(path);
        job.bytes += file.size;
        job.newest = Math.max(job.newest, file.mtimeMs);
      }
    }
  };
  await walk(path);
  return job;
}

export interface PruneReport {
  /** The job folders removed, oldest first. */
  removed: string[];
  freedBytes: number;
  /** Bytes of results left. */
  keptBytes: number;
}

/**
 * Removes the job folders of `folder` (named by jobFolderName, never anything else, never through a link) that
 * are older than the policy's age, then the oldest until the rest fit its size. Folders written in the last
 * minute, or holding a file still being written, always stay.
 */
export async function pruneResults(folder: string, policy: RetentionPolicy, now = Date.now()): Promise<PruneReport> {
  const entries = await readdir(folder, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? [] : Promise.reject(e)));
  const jobs: JobFolder[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || !JOB_FOLDER.test(entry.name)) continue;
    // one removed meanwhile (another server on the same folder) is simply not counted
    const job = await measure(join(folder, entry.name), entry.name).catch(() => undefined);
    if (job) jobs.push(job);
  }
  jobs.sort((a, b) => a.newest - b.newest);
  const report: PruneReport = { removed: [], freedBytes: 0, keptBytes: jobs.reduce((sum, j) => sum + j.bytes, 0) };
  for (const job of jobs) {
    if (job.writing || now - job.newest < BUSY_MS) continue;
    const expired = policy.maxAgeMs !== undefined && now - job.newest > policy.maxAgeMs;
    const tooMuch = policy.maxBytes !== undefined && report.keptBytes > policy.maxBytes;
    if (!expired && !tooMuch) continue;
    await rm(join(folder, job.name), { recursive: true, force: true });
    report.removed.push(job.name);
    report.freedBytes += job.bytes;
    report.keptBytes -= job.bytes;
  }
  return report;
}

/** How often an idle server checks its results' age. */
const CHECK_EVERY_MS = 10 * 60_000;

/**
 * Applies a retention policy to one output folder: when asked (after a job folder is made) and every ten
 * minutes, one run at a time; a failure is told, never thrown.
 */
export class ResultRetention {
  private running?: Promise<void>;
  private queued = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly folder: string,
    private readonly policy: RetentionPolicy,
    private readonly onError?: (message: string) => void,
  ) {
    this.timer = setInterval(() => this.prune(), CHECK_EVERY_MS).unref();
  }

  /** Prunes now, or once more when the run in progress ends; resolves when that run is done. */
  prune(): Promise<void> {
    if (this.running) {
      this.queued = true;
      return this.running;
    }
    this.running = pruneResults(this.folder, this.policy)
      .then(() => undefined, (e: Error) => this.onError?.(`removing old results failed: ${e.message}`))
      .finally(() => {
        this.running = undefined;
        if (this.queued) {
          this.queued = false;
          void this.prune();
        }
      });
    return this.running;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
