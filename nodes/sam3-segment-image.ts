import { decodeImage, imageResultFile, type ImagePrompt, maskCoverage, maskToPng, parseBoxes, parseConcepts, parsePoints, segmentationToJson } from "../core";
import { imageFromInput } from "./lib/image-input";
import { nodeInput, type PathSettings } from "./lib/message-paths";
import { modelNode, numberFrom, registerInputNode, type NodeAPI } from "./lib/node-kit";

interface SegmentImageConfig extends PathSettings {
  model: string;
  text: string;
  points: string;
  boxes: string;
  threshold: string;
  fineness: string;
  overlay: boolean;
  masks: boolean;
}

/** Segments one image (a camera snapshot, an upload) by text, clicks or boxes. */
export = (RED: NodeAPI) =>
  registerInputNode<SegmentImageConfig>(RED, "sam3-segment-image", (node, config) => {
    return async (msg, send) => {
      const model = modelNode(RED, node, config.model);
      const input = await imageFromInput(nodeInput(RED, msg, config), config);
      // a message that brings any prompt replaces the node's whole prompt, so msg.points never mixes with its text
      const fromMessage = msg.text !== undefined || msg.points !== undefined || msg.boxes !== undefined;
      const source = fromMessage ? { text: msg.text, points: msg.points, boxes: msg.boxes } : { text: config.text || undefined, points: config.points, boxes: config.boxes };
      const text = parseConcepts(source.text);
      const prompt: ImagePrompt = { text, points: parsePoints(source.points), boxes: parseBoxes(source.boxes) };
      const options = {
        threshold: numberFrom(msg.threshold, config.threshold, "threshold") ?? model.defaults.threshold,
        fineness: numberFrom(msg.fineness, config.fineness, "fineness") ?? model.defaults.fineness,
        multimask: msg.multimask as boolean | undefined,
      };
      const sam = await model.image(node);
      node.status({ fill: "blue", shape: "dot", text: "segmenting" });
      const image = await decodeImage(input);
      const result = await sam.segment(image, prompt, options);
      const json = segmentationToJson(result);
      msg.payload = json.objects;
      // the union of the masks: overlapping objects count once, so the share never passes the whole frame
      const coverage = maskCoverage(result.objects.map((o) => o.mask), json.image.width, json.image.height);
      msg.sam3 = { image: json.image, model: json.model, path: result.path, coverage, ...(json.candidates ? { candidates: json.candidates } : {}), warnings: result.warnings };
      if (config.overlay) msg.image = await imageResultFile(result, image, "overlay.png");
      if (config.masks) msg.masks = await Promise.all(result.objects.map(async (o) => ({ id: o.id, png: await maskToPng(o.mask) })));
      node.status({ fill: "green", shape: "dot", text: `${result.objects.length} object${result.objects.length === 1 ? "" : "s"}` });
      send(msg);
    };
  });
