// core's public entry: the faces (cli/, mcp/, nodes/, web/) import from here only.

// images and models
export { Sam3, type Sam3Options, type SegmentOptions, type SegmentResult, type SegmentedObject } from "./sam3";
export { ImageSession, type ImageSessionOptions, type ImageObjectJson } from "./image-session";
export { checkBox, checkPoint, type ImagePrompt, type PointPrompt, type BoxPrompt } from "./prompts";
export { parsePoints, parseBoxes, parseText, parseConcepts, toPixelPrompt, type Coordinates } from "./prompts";
export {
  parsePointText,
  parseBoxText,
  parseFramedPoint,
  parseFramedBox,
  parsePointList,
  parseBoxList,
  parseFramedPointList,
  parseFramedBoxList,
  PromptSyntaxError,
  type FramedPoint,
  type FramedBox,
} from "./prompt-grammar";
export { promptGrammarScript } from "./prompt-grammar-script";
export { decodeImage, type ImageInput, type RgbImage } from "./image/decode";
export { maskArea, maskBox, maskIoU, type Mask, type Box } from "./masks/mask";
export { refineMask, fineRadius } from "./masks/refine";
export { openPack, type ModelPack } from "./pack/open";
export { describeCapabilities, CAPABILITY_LABELS, type Capabilities, type Capability } from "./pack/capabilities";
export { readTrackerConstants, type TrackerConstants } from "./pack/tracker-constants";
export { PRESETS, DEFAULT_PRESET, presetDir } from "./pack/presets";
export { fetchablePreset, fetchPreset } from "./models/fetch";
export { PresetFetcher, presetCatalogue, type FetchStatus, type PresetEntry } from "./models/preset-fetcher";
export { verifyPack } from "./models/verify";
export { exportPack, exportArgs, exportVenvDir, setupExporter, EXPORT_DTYPES, EXPORT_ROLES, type ExportDtype, type ExportOptions } from "./models/export";
export { DEVICES, parseDevice, type Device } from "./runtime/devices";
export { ENGINE_HELP, parseEngine, type TritonTarget } from "./triton/engine-url";
export { gpuProviderPlan, installedGpuProviderFiles, installGpuProvider, removeGpuProvider, type GpuProviderPlan } from "./runtime/gpu-provider";
export { PACKAGE_ROOT } from "./paths";
export { EXAMPLE_MEDIA_DIR, EXAMPLE_PREFIX, examplePath } from "./example-media";
export { writeTritonRepository, type TritonModel, type TritonRepositoryOptions } from "./triton/model-repository";

// what a face serves
export { ModelHost, type ModelSummary } from "./face-runtime";

// errors, bounds and confinement
export { Sam3Error, isSam3Error, asSam3Error, type Sam3ErrorCode } from "./errors";
export { Confinement, isInside, resolveInside } from "./confine";
export { LIMITS } from "./limits";

// command lines (sam3, sam3-mcp)
export { readCommandLine, wholeNumberOption, nearestOption } from "./command-line";

// video
export { Sam3VideoPredictor, type PredictorOptions, type PropagateOptions, type SessionInfo, type VideoResponse } from "./video/predictor";
export type { FrameResult, FrameOutputs } from "./video/official";
export { DIRECTIONS, type PropagationDirection, type VideoRequest, type PropagateRequest, type VideoPrompt } from "./video/requests";
export { formatBytes } from "./bytes";
export type { PropagationProgress } from "./video/session";
export { VIDEO_RULES, type VideoRules } from "./video/rules";
export { MaskPromptTracker, MemoryVideoTracker, type TrackStep, type VideoTracker } from "./video/object-tracker";

// exports
export { maskToCocoRle, cocoRleToMask } from "./masks/rle";
export { maskCoverage, type Coverage } from "./masks/coverage";
export { maskToPolygons } from "./export/polygons";
export { maskToPng, pngToMask } from "./export/mask-png";
export { renderOverlay } from "./export/overlay";
export { segmentationToJson, type SegmentationJson, type ImageResults, type FrameJson, type FrameObjectJson, type ObjectJson } from "./export/json";
export { objectColour, colourHex } from "./export/palette";
export type { ObjectSummary } from "./export/summary";
export * as jsonSchemas from "./export/json-schemas";
export { writeSegmentationFiles, writeSegmentationJsonFiles, imageResultFile, fileStem, type ImageExportFormats, type ImageFileOptions, type ImageExportOptions, type ImageResultFile } from "./export/files";
export type { VideoExportOptions, VideoResultFile } from "./export/video-files";
export { zipFiles } from "./export/zip";
export { cutoutPng, cutoutsZip, type CutoutObject } from "./export/cutouts";
export { listFiles } from "./export/list-files";
export { ensureFolder, writeFileAtomic, partialName } from "./safe-write";
export { DEFAULT_RETENTION, jobFolderName, parseRetention, pruneResults, ResultRetention, type PruneReport, type RetentionPolicy } from "./output-retention";
