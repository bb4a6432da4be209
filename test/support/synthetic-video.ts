import { VideoWriter } from "../../core/export/video-writer";

export interface SyntheticVideo {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

/** Where the red square (moving right) and the blue square (moving down) are on frame t: [x1, y1, x2, y2]. */
export function squares({ width, height, frames }: SyntheticVideo, t: number) {
  const side = Math.max(8, Math.round(Math.min(width, height) / 5));
  const progress = frames > 1 ? t / (frames - 1) : 0;
  const redX = Math.round(progress * (width / 2 - side));
  const blueY = Math.round(progress * (height - side - 2));
  return {
    red: [redX, Math.round(height / 4), redX + side, Math.round(height / 4) + side] as const,
    blue: [Math.round((width * 3) / 4) - side, blueY, Math.round((width * 3) / 4), blueY + side] as const,
  };
}

/** Draws a grey video with two moving coloured squares and encodes it (the codec follows the extension). */
export async function makeVideo(path: string, video: SyntheticVideo): Promise<string> {
  const writer = await VideoWriter.open(path, video);
  for (let t = 0; t < video.frames; t++) {
    const rgb = new Uint8Array(video.width * video.height * 3).fill(128);
    const { red, blue } = squares(video, t);
    fill(rgb, video.width, red, [220, 30, 30]);
    fill(rgb, video.width, blue, [30, 60, 220]);
    await writer.write(rgb);
  }
  await writer.close();
  return path;
}

function fill(rgb: Uint8Array, width: number, [x1, y1, x2, y2]: readonly number[], colour: number[]) {
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) rgb.set(colour, (y * width + x) * 3);
}
