import { Sam3Error } from "../errors";

/** An optional number within [min, max] (a whole one when `whole`), else a BAD_OPTION error naming it. */
export function checkRange(name: string, v: unknown, min: number, max: number, whole = true): void {
  if (v === undefined) return;
  const ok = typeof v === "number" && (whole ? Number.isInteger(v) : Number.isFinite(v)) && v >= min && v <= max;
  if (!ok) throw new Sam3Error("BAD_OPTION", `${name} must be a ${whole ? "whole " : ""}number from ${min} to ${max}, got ${String(v).slice(0, 40)}`);
}
