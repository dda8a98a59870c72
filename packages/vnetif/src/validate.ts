/**
 * Option checks shared by the switch, the links and the middlewares. Every
 * failure is a `MorganaError("EINVAL")` naming the function and the option.
 */
import { MorganaError, type Clock, type MacAddress, type Random } from "@morgana/interfaces";

export function einval(where: string, message: string): never {
  throw new MorganaError("EINVAL", `${where}: ${message}`);
}

export function checkOptions(where: string, opts: unknown): void {
  if (typeof opts !== "object" || opts === null) einval(where, "options must be an object");
}

export function checkClock(where: string, clock: unknown): Clock {
  const c = clock as Partial<Clock> | null | undefined;
  if (typeof c !== "object" || c === null || typeof c.now !== "function" || typeof c.setTimer !== "function") {
    einval(where, "clock must be a Clock (now, setTimer)");
  }
  return clock as Clock;
}

export function checkRandom(where: string, random: unknown): Random {
  const r = random as Partial<Random> | null | undefined;
  if (typeof r !== "object" || r === null || typeof r.uint32 !== "function" || typeof r.fill !== "function") {
    einval(where, "random must be a Random (uint32, fill)");
  }
  return random as Random;
}

/** A probability in [0, 1]. */
export function checkRate(where: string, name: string, x: unknown): number {
  if (typeof x !== "number" || !(x >= 0 && x <= 1)) einval(where, `${name} must be a number in [0, 1], got ${String(x)}`);
  return x;
}

/** A finite number >= 0 (a delay, a latency). */
export function checkNonNegative(where: string, name: string, x: unknown): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x < 0) einval(where, `${name} must be a finite number >= 0, got ${String(x)}`);
  return x;
}

/** A number > 0, finite unless `allowInfinity`. */
export function checkPositive(where: string, name: string, x: unknown, allowInfinity = false): number {
  if (typeof x !== "number" || !(x > 0) || (!allowInfinity && !Number.isFinite(x))) {
    einval(where, `${name} must be a ${allowInfinity ? "" : "finite "}number > 0, got ${String(x)}`);
  }
  return x;
}

/** An integer in [min, max]. */
export function checkInt(where: string, name: string, x: unknown, min: number, max: number): number {
  if (typeof x !== "number" || !Number.isInteger(x) || x < min || x > max) {
    einval(where, `${name} must be an integer in [${min}, ${max}], got ${String(x)}`);
  }
  return x;
}

/** The largest MTU a virtual device accepts. */
export const MAX_MTU = 65536;

export function checkMtu(where: string, x: unknown): number {
  return checkInt(where, "mtu", x, 1, MAX_MTU);
}

export function checkMac(where: string, name: string, x: unknown): MacAddress {
  if (typeof x !== "number" || !Number.isInteger(x) || x < 0 || x > 0xffff_ffff_ffff) {
    einval(where, `${name} must be a MAC address (an integer in 0..2^48-1), got ${String(x)}`);
  }
  return x as MacAddress;
}

export function checkFunction<T>(where: string, name: string, x: unknown): T {
  if (typeof x !== "function") einval(where, `${name} must be a function`);
  return x as T;
}

/** Which frames a middleware acts on: leaving the device, arriving at it, or both. */
export type Direction = "tx" | "rx" | "both";

export function checkDirection(where: string, x: unknown): Direction {
  if (x === undefined) return "tx";
  if (x !== "tx" && x !== "rx" && x !== "both") einval(where, `direction must be "tx", "rx" or "both", got ${String(x)}`);
  return x;
}
