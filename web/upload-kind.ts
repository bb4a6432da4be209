import { extname } from "node:path";

const HEIF_BRANDS = new Set(["avif", "avis", "heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"]);

/**
 * Whether the bytes start like a still image the server decodes (JPEG, PNG, GIF, WebP, TIFF, AVIF/HEIF):
 * such an upload is an image or a BAD_IMAGE, never handed to the video decoder as a "1-frame video".
 */
export function looksLikeImage(b: Buffer): boolean {
  const ascii = (from: number, to: number) => b.subarray(from, to).toString("latin1");
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return true;
  if (ascii(0, 8) === "\x89PNG\r\n\x1a\n") return true;
  if (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a") return true;
  if (ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return true;
  if (ascii(0, 4) === "II*\0" || ascii(0, 4) === "MM\0*") return true;
  return ascii(4, 8) === "ftyp" && HEIF_BRANDS.has(ascii(8, 12));
}

const VIDEO_EXTENSIONS = new Set([".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".wmv", ".flv", ".3gp", ".ogv"]);

/** The server's own name for an uploaded video: only a known video extension survives from the user's name. */
export function videoFileName(uploadName: string): string {
  const extension = extname(uploadName).toLowerCase();
  return `upload${VIDEO_EXTENSIONS.has(extension) ? extension : ".mp4"}`;
}

/** The upload's name as the client gave it (URL-encoded, headers being ASCII), for messages only. */
export function uploadName(header: string | string[] | undefined): string {
  const raw = String(header ?? "upload");
  let name = raw;
  try {
    name = decodeURIComponent(raw);
  } catch {
    // a malformed escape: the raw header is the name
  }
  return name.replace(/\p{Cc}/gu, "").slice(0, 200) || "upload";
}
