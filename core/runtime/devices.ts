import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { listSupportedBackends } from "onnxruntime-node";
import { Sam3Error } from "../errors";

export const DEVICES = ["cpu", "webgpu", "cuda", "tensorrt", "coreml", "dml"] as const;
export type Device = (typeof DEVICES)[number];

export function parseDevice(value: string): Device {
  if ((DEVICES as readonly string[]).includes(value)) return value as Device;
  throw new Sam3Error("BAD_OPTION", `unknown device "${value}" (choose one of ${DEVICES.join(", ")})`);
}

/** Why onnxruntime-node cannot use a device here, or undefined when it may (sessions still confirm it). */
export function deviceUnavailableReason(device: Device): string | undefined {
  if (device === "cpu") return undefined;
  const backend = listSupportedBackends().find((b) => b.name === device);
  if (!backend) return `onnxruntime-node for ${process.platform}/${process.arch} has no ${device} provider`;
  // a provider that is not bundled is a separate download: without its library a session would only fail (and
  // onnxruntime would print its own error lines first)
  if (!backend.bundled && !existsSync(join(bindingFolder(), providerLibrary(device)))) return `the ${device} provider library of onnxruntime-node is not installed`;
  return undefined;
}

/** Where onnxruntime-node keeps its native libraries, and the downloaded providers beside them. */
const bindingFolder = () => join(dirname(createRequire(__filename).resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);

const providerLibrary = (device: Device) => (process.platform === "win32" ? `onnxruntime_providers_${device}.dll` : `libonnxruntime_providers_${device}.so`);

/** Where a device that failed points the user. */
export const DEVICE_HINTS: Partial<Record<Device, string>> = {
  cuda: "needs CUDA 12 + cuDNN 9 and the provider libraries (npx sam3 gpu install)",
  tensorrt: "needs TensorRT 10, CUDA 12 and the provider libraries (npx sam3 gpu install)",
  webgpu: "needs a GPU driver with Vulkan (Linux), Metal (macOS) or D3D12 (Windows)",
};
