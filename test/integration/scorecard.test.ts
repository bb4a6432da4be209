import { describe, expect, it } from "vitest";
import { REPO } from "../support/reference";
import { NODE_RED_DEV, nodeRedDev, registryAnswers, runScorecard, startCatalogue } from "../support/scorecard";

/**
 * Node-RED's scorecard on this package, as the flow library grades it: every check the tool has must pass. The
 * flow catalogue (flows.nodered.org) is not reachable from the test machines, so the two checks that read it (P08
 * similar package names, N01 node type clashes) read a local snapshot of its API instead; the registry checks
 * (P06 Node-RED versions, P07 Node.js versions, D02 dependency tree, D03 latest versions) need npm's registry and
 * are skipped without it. P02 is disabled in the tool itself.
 */
const CHECKS = ["P01", "P03", "P04", "P05", "P06", "P07", "P08", "N01", "N02", "D01", "D02", "D03"];

describe(`${NODE_RED_DEV} validate`, () => {
  it("passes every check: repository link, at most 6 dependencies, all at their latest versions, ...", async (context) => {
    const { bin, problem } = nodeRedDev();
    if (!bin) context.skip(problem);
    if (!(await registryAnswers())) context.skip("npm's registry does not answer: the scorecard's version and dependency checks cannot run");
    const catalogue = await startCatalogue();
    try {
      const card = await runScorecard(bin!, REPO, catalogue);
      console.log(`scorecard:\n${card.output}`);
      // the catalogue checks ran, on the local copy
      expect(catalogue.requests).toEqual(["https://catalogue.nodered.org/catalogue.json", "https://catalogue.nodered.org/catalogue.json"]);
      expect(Object.keys(card.checks).sort()).toEqual([...CHECKS].sort());
      const failed = Object.entries(card.checks).filter(([, check]) => !check.test);
      expect(failed).toEqual([]);
      expect(card.checks.D01.total).toBeLessThanOrEqual(6);
    } finally {
      await catalogue.close();
    }
  }, 600_000);
});
