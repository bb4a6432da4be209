/** Why a call failed, as a stable code the faces (CLI, Node-RED, MCP) can act on. */
export type Sam3ErrorCode =
  | "BAD_IMAGE" // unreadable, truncated, empty or too large image
  | "BAD_PROMPT" // empty prompt, point outside the image, inverted box
  | "BAD_OPTION" // an option out of range
  | "PACK_INVALID" // model pack missing a file, a role or a tensor
  | "UNKNOWN_PRESET"
  | "BAD_VIDEO" // unreadable or truncated video, empty frame folder
  | "FFMPEG_FAILED" // ffmpeg missing, killed or failing
  | "BAD_REQUEST" // a video request that cannot be served: frame out of range, points without obj_id...
  | "UNKNOWN_SESSION"
  | "UNKNOWN_OBJECT"
  | "LIMIT_EXCEEDED" // too many sessions, too much cache memory
  | "DOWNLOAD_FAILED" // offline, refused (401/403/404), or a file whose checksum does not match
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
