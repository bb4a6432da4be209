import { describe, expect, it } from "vitest";
import { capabilitiesOf, describeCapabilities, missingCapability } from "../../core/pack/capabilities";
import { PRESETS, presetWith } from "../../core/pack/presets";
import type { Role } from "../../core/pack/roles";

const of = (...roles: Role[]) => capabilitiesOf(new Set(roles));

describe("what a pack can do, from its graphs", () => {
  it("a detector alone, with and without exemplar boxes", () => {
    expect(of("visionEncoder", "textEncoder", "detectorDecoder")).toEqual({
      text: true, exemplarBoxes: false, clicks: false, box: false, maskRefinement: false, video: false, textVideo: false,
    });
    expect(of("backbone", "textEncoder", "detectorDecoderBoxes")).toMatchObject({ text: true, exemplarBoxes: true });
    expect(of("textEncoder", "detectorDecoder").text).toBe(false);
  });

  it("a tracker tracks video by the previous mask when its decoder takes one, else by the previous mask's box", () => {
    expect(of("trackerVisionEncoder", "trackerDecoder")).toMatchObject({ clicks: true, box: true, maskRefinement: false, video: "box prompts" });
    expect(of("backbone", "trackerDecoder", "trackerDecoderMask")).toMatchObject({ maskRefinement: true, video: "mask prompts" });
    expect(of("trackerDecoder", "trackerDecoderMask").clicks).toBe(false);
  });

  it("SAM 3's memory tracker needs the memory graphs and the tracker constants", () => {
    const memoryGraphs: Role[] = ["backbone", "trackerDecoder", "trackerDecoderMask", "videoTrackerDecoder", "videoTrackerDecoderMask", "memoryEncoder", "memoryAttention"];
    expect(capabilitiesOf(new Set(memoryGraphs), true).video).toBe("memory");
    expect(capabilitiesOf(new Set(memoryGraphs), false).video).toBe("mask prompts");
    expect(capabilitiesOf(new Set(memoryGraphs.filter((r) => r !== "memoryAttention")), true).video).toBe("mask prompts");
  });

  it("says it in one line, and says what is missing with a preset that has it", () => {
    const tracker = of("trackerVisionEncoder", "trackerDecoder");
    expect(describeCapabilities(tracker)).toBe("clicks, box prompts, video tracking (box prompts)");
    expect(describeCapabilities(of())).toBe("nothing");
    expect(missingCapability("m", tracker, "clicks", presetWith)).toBeUndefined();
    expect(missingCapability("m", tracker, "text", presetWith)).toBe(
      "model m cannot do text prompts: it needs a detector (vision encoder or backbone, text encoder and detector decoder); the preset usls-sam3 has it",
    );
    // no public export takes a mask prompt: the bundled packs do
    expect(presetWith("maskRefinement")).toBe("sam3-tiny-336");
  });

  it("every downloadable preset's precisions map the same roles", () => {
    for (const preset of PRESETS.filter((p) => p.variants)) {
      const roles = preset.variants!.map((v) => Object.keys(v.manifest.roles).sort().join());
      expect(new Set(roles).size, preset.name).toBe(1);
      expect(preset.verified).toBe(false);
    }
  });
});
