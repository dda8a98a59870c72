import { Socket } from "node:net";
import { MorganaError } from "@morgana/interfaces";
import { describe, expect, it } from "vitest";
import { fromNodeError } from "../src/index.js";

describe("fromNodeError", () => {
  it("keeps a real Node system error's code, errno, syscall, address and port, with the original as cause", async () => {
    const nodeErr = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const s = new Socket();
      s.once("error", resolve);
      s.connect(1, "127.0.0.1"); // port 1: nobody listens
    });
    const e = fromNodeError(nodeErr);
    expect(e).toBeInstanceOf(MorganaError);
    expect(e.code).toBe(nodeErr.code);
    expect(e.errno).toBe(nodeErr.errno);
    expect(e.syscall).toBe(nodeErr.syscall);
    expect(e.address).toBe((nodeErr as unknown as { address: string }).address);
    expect(e.port).toBe((nodeErr as unknown as { port: number }).port);
    expect(e.cause).toBe(nodeErr);
    expect(e.message).toBe(nodeErr.message);
  });

  it("fills what Node left out from the details, without overriding what it said", () => {
    const nodeErr = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" });
    const e = fromNodeError(nodeErr, { syscall: "other", address: "10.0.0.1", port: 80 });
    expect(e).toMatchObject({ code: "ECONNRESET", errno: -104, syscall: "read", address: "10.0.0.1", port: 80 });
  });

  it("keeps Node's errno for system codes the interfaces table lacks", () => {
    const e = fromNodeError(Object.assign(new Error("x"), { code: "ENOTSOCK", errno: -88, syscall: "getsockname" }));
    expect(e.code).toBe("ENOTSOCK");
    expect(e.errno).toBe(-88);
  });

  it("translates Node's ERR_ codes to the contract's codes", () => {
    const cases: [string, string][] = [
      ["ERR_STREAM_WRITE_AFTER_END", "EPIPE"],
      ["ERR_SOCKET_DGRAM_NOT_RUNNING", "ERR_SOCKET_CLOSED"],
      ["ERR_SOCKET_CLOSED", "ERR_SOCKET_CLOSED"],
      ["ERR_SOCKET_BAD_PORT", "EINVAL"],
      ["ERR_INVALID_ARG_TYPE", "EINVAL"],
      ["ERR_SOCKET_CONNECTION_TIMEOUT", "ETIMEDOUT"],
      ["ERR_SOMETHING_NEW", "EIO"],
    ];
    for (const [from, to] of cases) {
      const orig = Object.assign(new Error("m"), { code: from });
      const e = fromNodeError(orig, { syscall: "write" });
      expect(e.code, from).toBe(to);
      expect(e.cause).toBe(orig);
      expect(e.syscall).toBe("write");
    }
    expect(fromNodeError(new DOMException("aborted", "AbortError")).code).toBe("ABORT_ERR");
    expect(fromNodeError("a string").code).toBe("EIO");
  });

  it("returns a MorganaError unchanged", () => {
    const m = new MorganaError("ETIMEDOUT");
    expect(fromNodeError(m)).toBe(m);
  });
});
