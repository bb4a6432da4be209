import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { asSam3Error, isSam3Error, type Sam3Error } from "../core";
import type { MediaPaths } from "./media-paths";

export interface ErrorResult {
  [key: string]: unknown;
  content: { type: "text"; text: string }[];
  isError: true;
}

/** The error's code and message as a client reads them: "CODE: message", without server paths. */
const describe = (error: Sam3Error, paths: MediaPaths) => `${error.code}: ${paths.scrub(error.message)}`;

/** Any failure as a Sam3Error; an unexpected one is logged here in full and reaches the client only as INTERNAL. */
function typed(e: unknown, doing: string, log?: (message: string) => void): Sam3Error {
  const error = asSam3Error(e, doing);
  if (!isSam3Error(e) && error.code === "INTERNAL") log?.(`${doing} failed: ${(e as Error)?.stack ?? e}`);
  return error;
}

/** Wraps a tool handler so every failure is an isError result naming its Sam3Error code. */
export function guardTool<A extends unknown[], R>(paths: MediaPaths, name: string, handler: (...args: A) => Promise<R>, log?: (message: string) => void) {
  return async (...args: A): Promise<R | ErrorResult> => {
    try {
      return await handler(...args);
    } catch (e) {
      return { content: [{ type: "text", text: describe(typed(e, name, log), paths) }], isError: true };
    }
  };
}

/** Wraps a resource reader so a failure is a JSON-RPC error naming its Sam3Error code. */
export function guardResource<A extends unknown[], R>(paths: MediaPaths, handler: (...args: A) => Promise<R>, log?: (message: string) => void) {
  return async (...args: A): Promise<R> => {
    try {
      return await handler(...args);
    } catch (e) {
      const error = typed(e, "reading the resource", log);
      // the SDK sends a thrown error's code and message as they are (an McpError would prefix its message)
      throw Object.assign(new Error(describe(error, paths)), { code: error.code === "INTERNAL" ? ErrorCode.InternalError : ErrorCode.InvalidParams });
    }
  };
}

/**
 * Arguments the SDK itself refuses (schema validation, an unknown tool) come back as isError results too; they
 * get the BAD_REQUEST code like every other refusal. The SDK builds those results in one private method.
 */
export function codeSdkToolErrors(server: McpServer): void {
  const sdk = server as unknown as { createToolError?: (message: string) => ErrorResult };
  // another SDK version may build them elsewhere: its refusals then come without the code (the tests say so)
  if (typeof sdk.createToolError !== "function") return;
  const original = sdk.createToolError.bind(server);
  sdk.createToolError = (message: string) => original(`BAD_REQUEST: ${message}`);
}
