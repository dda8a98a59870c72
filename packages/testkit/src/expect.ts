import { DecodeError, isMorganaError } from "@morgana/interfaces";
import { expect } from "vitest";

/** Asserts that `fn` throws a MorganaError with `code`. */
export function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected a MorganaError ${code}`).toBeDefined();
  expect(isMorganaError(thrown), String(thrown)).toBe(true);
  expect((thrown as { code: string }).code).toBe(code);
}

/** Asserts that `p` rejects with a MorganaError with `code`. */
export async function expectReject(p: Promise<unknown>, code: string): Promise<void> {
  let err: unknown;
  await p.then(
    () => undefined,
    (e) => (err = e),
  );
  expect(err, `expected a rejection with ${code}`).toBeDefined();
  expect(isMorganaError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

/** Asserts that `f` throws a DecodeError and returns it (to check its layer and offset). */
export function expectDecodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return e as DecodeError;
  }
  throw new Error("expected a DecodeError");
}
