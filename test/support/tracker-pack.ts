import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO } from "./reference";

/** The roles of a pack that can only track: the tracker's encoder and its decoders, no detector, no tokenizer. */
const TRACKER_ROLES = ["trackerVisionEncoder", "trackerDecoder", "trackerDecoderMask"];

/** What such a pack can do, as describeCapabilities says it. */
export const TRACKER_ONLY_CAN = "clicks, box prompts, mask refinement, video tracking (mask prompts)";

export const TRACKER_ONLY_NAME = "sam3-tracker-only-336";

/**
 * A pack in a new temporary folder made of the bundled 336 pack's tracker graphs (hard links where the file system
 * allows, else copies: a symbolic link would lead out of the pack, which openPack refuses). Returns its folder.
 */
export function trackerOnlyPack(): string {
  const original = join(REPO, "models", "sam3-tiny-336");
  const dir = mkdtempSync(join(tmpdir(), "sam3-tracker-only-"));
  const manifest = JSON.parse(readFileSync(join(original, "manifest.json"), "utf8"));
  manifest.name = TRACKER_ONLY_NAME;
  manifest.description = "the tracker graphs of sam3-tiny-336 only, for tests: RANDOM WEIGHTS";
  manifest.roles = Object.fromEntries(TRACKER_ROLES.map((role) => [role, manifest.roles[role]]));
  for (const role of TRACKER_ROLES) {
    const file: string = manifest.roles[role].file;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    try {
      linkSync(join(original, file), join(dir, file));
    } catch {
      copyFileSync(join(original, file), join(dir, file));
    }
  }
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  return dir;
}

/** The MISSING_CAPABILITY message for a text prompt on that pack (after what a face puts before it). */
export const NO_TEXT = new RegExp(`model ${TRACKER_ONLY_NAME} cannot do text prompts( on video)?: it needs (a|both a) detector`);
