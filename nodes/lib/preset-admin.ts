import type { Request, Response } from "express";
import { asSam3Error, presetCatalogue, PresetFetcher, type Sam3ErrorCode } from "../../core";
import type { NodeAPI } from "./node-kit";

/** HTTP statuses of the refusals a fetch request can meet; anything else is the server's failure. */
const STATUS: Partial<Record<Sam3ErrorCode, number>> = { BAD_REQUEST: 400, BAD_OPTION: 400, UNKNOWN_PRESET: 404, LIMIT_EXCEEDED: 409 };

/**
 * The model config node's admin endpoints, for getting real weights from the editor: the presets and which are
 * installed, a fetch into the models folder (one at a time) and its progress, polled by the editor.
 */
export function servePresets(RED: NodeAPI) {
  const fetcher = new PresetFetcher();
  const read = RED.auth.needsPermission("sam3-model.read");
  const write = RED.auth.needsPermission("sam3-model.write");
  const answer = (res: Response, work: () => unknown) => {
    try {
      res.json(work());
    } catch (e) {
      const error = asSam3Error(e, "the model presets");
      res.status(STATUS[error.code] ?? 500).json({ code: error.code, message: error.message });
    }
  };
  RED.httpAdmin.get("/sam3/presets", read, (_req: Request, res: Response) => answer(res, () => ({ presets: presetCatalogue(), fetch: fetcher.status })));
  RED.httpAdmin.get("/sam3/presets/fetch", read, (_req: Request, res: Response) => answer(res, () => fetcher.status));
  RED.httpAdmin.post("/sam3/presets/fetch", write, (req: Request, res: Response) => answer(res, () => fetcher.start(req.body?.preset, req.body?.dtype)));
  RED.httpAdmin.post("/sam3/presets/fetch/cancel", write, (_req: Request, res: Response) => answer(res, () => fetcher.cancel()));
}
