import { expect } from "vitest";
import { Sam3Error } from "../../core/errors";

/** The Sam3Error a promise rejects with; the test fails if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<Sam3Error> {
  const e = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(Sam3Error);
  return e as Sam3Error;
}
