import { describe, expect, it } from "vitest";
import { formatBytes } from "../../core/bytes";

describe("byte counts in messages", () => {
  it("uses the largest binary unit the count reaches", () => {
    expect([0, 1023, 1024, 200 * 2 ** 20, 1.76 * 2 ** 30].map(formatBytes)).toEqual(["0 bytes", "1023 bytes", "1 KiB", "200 MiB", "1.76 GiB"]);
  });

  it("rounds MiB and KiB to whole units, GiB to two decimals", () => {
    expect([1536, 903.4 * 2 ** 20, 2 * 2 ** 30].map(formatBytes)).toEqual(["2 KiB", "903 MiB", "2.00 GiB"]);
  });
});
