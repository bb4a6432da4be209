/** Why a call failed, as a stable code the faces (CLI, Node-RED, MCP, web UI) can act on. */
export type Sam3ErrorCode =
  | "BAD_IMAGE" // unreadable, truncated, empty or too large image
  | "BAD_PROMPT" // empty prompt, point outside the image, inverted box, too many points
  | "BAD_OPTION" // an option out of range
  | "PACK_INVALID" // model pack missing a file, a role or a tensor, or a malformed manifest
  | "UNKNOWN_PRESET"
  | "MISSING_CAPABILITY" // the model pack lacks the graphs a prompt needs (text, clicks, mask refinement, video...)
  | "BAD_VIDEO" // unreadable or truncated video, empty frame folder, a playlist or other refused container
  | "FFMPEG_FAILED" // ffmpeg missing, killed or failing
  | "BAD_REQUEST" // a video request that cannot be served: frame out of range, points without obj_id...
  | "UNKNOWN_SESSION"
  | "UNKNOWN_OBJECT"
  | "LIMIT_EXCEEDED" // too many sessions, points, objects, frames, pixels or bytes
  | "PATH_NOT_ALLOWED" // a path (or a link inside it) that leads outside the allowed folders or the model pack
  | "UNAUTHORIZED" // a server request without the right token
  | "FORBIDDEN" // a server request from a foreign Host or another site's page
  | "WRITE_FAILED" // an output that cannot be written: disk full, no permission, not a folder
  | "TIMEOUT" // waited too long for a free slot, or the work ran past its time limit
  | "DOWNLOAD_FAILED" // offline, refused (401/403/404), or a file whose checksum does not match
  | "EXPORT_SETUP_NEEDED" // the Python exporter's environment (models/export) is not set up
  | "EXPORT_FAILED" // the Python exporter refused its input, failed or was cancelled
  | "REMOTE_UNAVAILABLE" // the inference server (Triton) does not answer, is not ready, or timed out after its retries
  | "REMOTE_MODEL_MISSING" // the inference server lacks a graph of the pack, or serves one with other tensors
  | "REMOTE_FAILED" // the inference server refused a request or gave a malformed answer
  | "INTERNAL" // an unexpected failure; the message says so without server details
  | "CLOSED"; // the engine or session was closed

/** A user-facing failure: the message says what was wrong and what to do; no stack trace is needed. */
export class Sam3Error extends Error {
  readonly code: Sam3ErrorCode;
  constructor(code: Sam3ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Sam3Error";
    this.code = code;
  }
}

export const isSam3Error = (e: unknown): e is Sam3Error => e instanceof Sam3Error;

/** What a file-system failure means to the user, without the paths or the OS message. */
const FILE_SYSTEM_REASONS: Record<string, [Sam3ErrorCode, string]> = {
  ENOSPC: ["WRITE_FAILED", "the disk is full"],
  EDQUOT: ["WRITE_FAILED", "the disk quota is used up"],
  EROFS: ["WRITE_FAILED", "the file system is read-only"],
  EACCES: ["WRITE_FAILED", "permission denied"],
  EPERM: ["WRITE_FAILED", "the operation is not permitted"],
  EEXIST: ["WRITE_FAILED", "something of that name is already there"],
  ENOTDIR: ["WRITE_FAILED", "a part of the path is a file, not a folder"],
  EISDIR: ["WRITE_FAILED", "a folder stands where a file was expected"],
  ENOENT: ["WRITE_FAILED", "a folder of the path does not exist"],
  EMFILE: ["LIMIT_EXCEEDED", "too many open files"],
  ENAMETOOLONG: ["WRITE_FAILED", "the name is too long"],
};

/**
 * Any failure as a Sam3Error: Sam3Errors pass through, file-system errors get a code and a reason, anything else
 * becomes INTERNAL. `doing` starts the message ("writing the overlay"); no path or foreign message is quoted.
 */
export function asSam3Error(e: unknown, doing: string): Sam3Error {
  if (isSam3Error(e)) return e;
  const reason = FILE_SYSTEM_REASONS[(e as NodeJS.ErrnoException | undefined)?.code ?? ""];
  if (reason) return new Sam3Error(reason[0], `${doing} failed: ${reason[1]}`, { cause: e });
  return new Sam3Error("INTERNAL", `${doing} failed unexpectedly`, { cause: e });
}
