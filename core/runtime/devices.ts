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
  return undefined;
}

/** Where a device that failed points the user. */
export const DEVICE_HINTS: Partial<Record<Device, string>> = {
  cuda: "needs CUDA 12 + cuDNN 9 and the provider libraries (npx sam3 gpu install)",
  tensorrt: "needs TensorRT 10, CUDA 12 and the provider libraries (npx sam3 gpu install)",
  webgpu: "needs a GPU driver with Vulkan (Linux), Metal (macOS) or D3D12 (Windows)",
};
