/**
 * TCP error paths and lifecycle: refused connections, ports in use,
 * ephemeral ports, flow misuse, abort, abortive close, listener close,
 * async iteration, and Stack.close().
 */
import { expect } from "vitest";
import type { TcpFlow } from "@morgana/interfaces";
import { concat, equalBytes, PatternSource, text, untext } from "../data.js";
import type { CheckContext, ErrorLike } from "../context.js";
import type { Check } from "./check.js";
import { expectEphemeral, finish, readExactly } from "./tcp-data.js";

/** A port of the server with nothing listening on it (a listener just had it). */
async function closedPort(ctx: CheckContext): Promise<number> {
  const l = await ctx.wait("listen({ port: 0 }) to find a closed port", ctx.server.tcp.listen({ port: 0 }));
  const port = l.local.port;
  await ctx.wait("close that listener", l.close());
  return port;
}

/**
 * Waits until `flow` learns that its peer reset the connection: it reads
 * (until an error; an end of stream is sticky) while writing probes, and
 * returns the first error seen, by a read or a write.
 */
async function peerResetSeen(ctx: CheckContext, flow: TcpFlow, label: string): Promise<ErrorLike> {
  const readLoop = (async (): Promise<ErrorLike | null> => {
    try {
      while ((await flow.read()) !== null);
      return null;
    } catch (e) {
      return e as ErrorLike;
    }
  })();
  const readFailed = readLoop.then((r) => (r === null ? new Promise<never>(() => undefined) : r));
  const writeErr = await ctx.provoke(flow, readFailed, label);
  if (writeErr !== undefined) return writeErr;
  return ctx.wait(`${label}: read error`, readFailed);
}

const refused: Check = {
  id: "tcp-refused",
  title: "connect to a port nobody listens on: ECONNREFUSED with the address and port",
  directional: true,
  async run(ctx) {
    const port = await closedPort(ctx);
    const err = await ctx.rejects(
      `connect(${ctx.serverAddress}:${port})`,
      ctx.client.tcp.connect({ address: ctx.serverAddress, port }),
      "ECONNREFUSED",
      { address: ctx.serverAddress, port },
    );
    expect(err.errno, "errno of ECONNREFUSED, as Node reports it").toBe(-111);
  },
};

const portInUse: Check = {
  id: "tcp-port-in-use",
  title: "EADDRINUSE: a second listen (TCP) or bind (UDP) on a taken port, a connect from a listening port",
  directional: true,
  async run(ctx) {
    const l1 = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const port = l1.local.port;
    await ctx.rejects(`second listen({ port: ${port} })`, ctx.server.tcp.listen({ port }), "EADDRINUSE", { port });
    if (ctx.server.addresses().includes(ctx.serverAddress)) {
      await ctx.rejects(
        `listen({ port: ${port}, address: ${ctx.serverAddress} }) under a wildcard listener`,
        ctx.server.tcp.listen({ port, address: ctx.serverAddress }),
        "EADDRINUSE",
        { port },
      );
    }
    const s1 = await ctx.wait("udp.bind()", ctx.server.udp.bind());
    const uport = s1.local.port;
    await ctx.rejects(`second udp.bind({ port: ${uport} })`, ctx.server.udp.bind({ port: uport }), "EADDRINUSE", { port: uport });
    await ctx.wait("udp socket close()", s1.close());
    const s2 = await ctx.wait(`udp.bind({ port: ${uport} }) once the socket is closed`, ctx.server.udp.bind({ port: uport }));
    expect(s2.local.port, "the port is free again after close()").toBe(uport);
    await ctx.wait("udp socket close()", s2.close());

    await ctx.wait("listener.close()", l1.close());
    const l2 = await ctx.wait(`listen({ port: ${port} }) once the listener is closed`, ctx.server.tcp.listen({ port }));
    expect(l2.local.port, "the port is free again after close()").toBe(port);
    // An explicit local port held by a listener of the connecting stack.
    const lc = await ctx.wait("client listen({ port: 0 })", ctx.client.tcp.listen({ port: 0 }));
    await ctx.rejects(
      `connect with localPort ${lc.local.port}, which a listener holds`,
      ctx.client.tcp.connect({ address: ctx.serverAddress, port, localPort: lc.local.port }),
      "EADDRINUSE",
      { port: lc.local.port },
    );
    await ctx.wait("close the listeners", Promise.all([l2.close(), lc.close()]));
  },
};

const ephemeral: Check = {
  id: "tcp-ephemeral-ports",
  title: "ephemeral ports: connect without localPort and listen on port 0 give distinct ports in the range",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const k = 8;
    const pairs: { client: TcpFlow; server: TcpFlow }[] = [];
    for (let i = 0; i < k; i++) pairs.push(await ctx.connect({ listener }));
    const ports = pairs.map((p) => p.client.local.port);
    for (const p of ports) expectEphemeral(ctx, "connect() local port", p);
    expect(new Set(ports).size, `${k} open connections have distinct local ports (${ports.join(", ")})`).toBe(k);
    for (const p of pairs) expect(p.server.remote.port, "the server sees the client's local port").toBe(p.client.local.port);
    const l1 = await ctx.wait("client listen({ port: 0 })", ctx.client.tcp.listen({ port: 0 }));
    const l2 = await ctx.wait("client listen({ port: 0 }) again", ctx.client.tcp.listen({ port: 0 }));
    expectEphemeral(ctx, "listen({ port: 0 })", l1.local.port);
    expectEphemeral(ctx, "listen({ port: 0 })", l2.local.port);
    expect(l1.local.port, "two listeners on port 0 get distinct ports").not.toBe(l2.local.port);
    await ctx.wait(
      "close everything",
      Promise.all([...pairs.flatMap((p) => [p.client.close(), p.server.close()]), listener.close(), l1.close(), l2.close()]),
    );
  },
};

const flowErrors: Check = {
  id: "tcp-flow-errors",
  title: "flow misuse: EPIPE after shutdown and close, EINVAL for non-bytes, writev all or nothing, empty writes, reads after close give null",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    await ctx.wait("an empty write resolves", client.write(new Uint8Array(0)));
    await ctx.rejects("write(a string)", client.write("not bytes" as unknown as Uint8Array), "EINVAL");
    await ctx.rejects(
      "writev([bytes, a string]) (all or nothing)",
      client.writev([text.encode("LOST"), "not bytes" as unknown as Uint8Array]),
      "EINVAL",
    );
    await ctx.wait("client writes M", client.write(text.encode("M")));
    await ctx.wait("client.shutdown()", client.shutdown());
    await ctx.rejects("write after shutdown()", client.write(text.encode("x")), "EPIPE");
    await ctx.rejects("writev after shutdown()", client.writev([text.encode("x")]), "EPIPE");
    const got = await ctx.readToEnd(server, "server reads");
    expect(untext.decode(got), "the empty write and the refused writev sent nothing").toBe("M");
    await ctx.wait("server writes R", server.write(text.encode("R")));
    const serverClosed = server.close();
    expect(untext.decode(await readExactly(ctx, client, 1, "client reads R"))).toBe("R");
    await ctx.readsNull("client reads the end", client.read());
    await ctx.wait("client.close()", client.close());
    await ctx.wait("client.close() again (idempotent)", client.close());
    await ctx.rejects("write after close()", client.write(text.encode("x")), "EPIPE");
    await ctx.readsNull("read after close()", client.read());
    await ctx.wait("server.close()", serverClosed);
    await ctx.wait("listener.close()", listener.close());
  },
};

const abortAfterClose: Check = {
  id: "tcp-abort-after-close",
  title: "abort() after a completed close() does nothing: reads still give null, writes EPIPE",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    // The client ends first, so its close() completes in TIME-WAIT (as a TCP would).
    await ctx.wait("client.shutdown()", client.shutdown());
    await ctx.readsNull("server reads the end", server.read());
    const closed = ctx.task("server.close()", () => server.close());
    await ctx.readsNull("client reads the end", client.read());
    await ctx.wait("client.close()", client.close());
    client.abort();
    await ctx.readsNull("read after a completed close() and then abort()", client.read());
    await ctx.rejects("write after a completed close() and then abort()", client.write(text.encode("x")), "EPIPE");
    client.abort();
    await ctx.wait("close() again", client.close());
    await closed;
    await ctx.wait("listener.close()", listener.close());
  },
};

const abort: Check = {
  id: "tcp-abort",
  title: "abort(): pending and later operations reject with ECONNABORTED, close() resolves, the peer gets ECONNRESET",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const pendingRead = client.read();
    pendingRead.catch(() => undefined);
    client.abort();
    await ctx.rejects("the read pending at abort()", pendingRead, "ECONNABORTED");
    await ctx.rejects("read after abort()", client.read(), "ECONNABORTED");
    await ctx.rejects("write after abort()", client.write(text.encode("x")), "ECONNABORTED");
    await ctx.rejects("shutdown after abort()", client.shutdown(), "ECONNABORTED");
    client.abort(); // a second abort does nothing
    await ctx.wait("close() after abort() resolves", client.close());
    const err = await peerResetSeen(ctx, server, "server");
    expect(err.code, "the peer of an aborted flow sees ECONNRESET").toBe("ECONNRESET");
    await ctx.wait("server.close() after the reset", server.close());
    await ctx.wait("listener.close()", listener.close());
  },
};

const abortError: Check = {
  id: "tcp-abort-error",
  title: "abort(err): pending and later operations reject with the given error",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const reason = new Error("the application gave up");
    const pendingRead = client.read();
    pendingRead.catch(() => undefined);
    client.abort(reason);
    for (const [label, op] of [
      ["the read pending at abort(err)", () => pendingRead],
      ["read after abort(err)", () => client.read()],
      ["write after abort(err)", () => client.write(text.encode("x"))],
    ] as const) {
      let got: unknown;
      try {
        await ctx.wait(label, op() as Promise<unknown>);
      } catch (e) {
        got = e;
      }
      expect(got, `${label}: rejects with the error given to abort()`).toBe(reason);
    }
    await ctx.wait("close() after abort(err)", client.close());
    await peerResetSeen(ctx, server, "server");
    await ctx.wait("server.close()", server.close());
    await ctx.wait("listener.close()", listener.close());
  },
};

const dataBeforeReset: Check = {
  id: "tcp-data-before-reset",
  title: "data received before a reset is still read before the error (ECONNRESET), and the error is sticky",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    await ctx.wait("server writes hello", server.write(text.encode("hello")));
    expect(untext.decode(await readExactly(ctx, client, 5, "client reads hello"))).toBe("hello");
    const tail = new PatternSource(ctx.seed("tail")).take(ctx.bytes(3000));
    await ctx.wait("server writes the tail", server.write(tail.slice()));
    // Let the tail reach the client (and be acknowledged, through retransmissions on a lossy path):
    // a pause, not an assertion. The client does not read meanwhile.
    await ctx.wait("a pause for the tail to arrive", ctx.realSleep(300));
    server.abort();
    const got: Uint8Array[] = [];
    let err: ErrorLike | undefined;
    for (;;) {
      try {
        const c = await ctx.wait("client reads after the reset", client.read());
        if (c === null) break;
        got.push(c);
      } catch (e) {
        err = e as ErrorLike;
        break;
      }
    }
    const data = concat(got);
    expect(data.length, `the ${tail.length} bytes received before the reset are read before the error`).toBe(tail.length);
    expect(equalBytes(data, tail), "and they are intact").toBe(true);
    expect(err?.code, "then read() rejects with ECONNRESET").toBe("ECONNRESET");
    await ctx.rejects("read() again", client.read(), "ECONNRESET");
    await ctx.rejects("write() after the reset", client.write(text.encode("x")), "ECONNRESET");
    await ctx.rejects("shutdown() after the reset", client.shutdown(), "ECONNRESET");
    await ctx.wait("client.close() after a reset", client.close());
    await ctx.wait("listener.close()", listener.close());
  },
};

const concurrentReads: Check = {
  id: "tcp-concurrent-reads",
  title: "concurrent read() calls are served in call order; a read pending at the end of stream gives null",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const order: number[] = [];
    const reads = [0, 1, 2, 3].map((i) => {
      const p = server.read().then((c) => {
        order.push(i);
        return c;
      });
      p.catch(() => undefined);
      return p;
    });
    const words = ["one", "two", "three"];
    for (let i = 0; i < words.length; i++) {
      await ctx.wait(`client writes ${words[i]}`, client.write(text.encode(words[i]!)));
      // The next write only once this one was read, so the chunks cannot merge.
      const c = await ctx.wait(`read ${i}`, reads[i]!);
      expect(c === null ? null : untext.decode(c), `read ${i} (issued ${i}th) gets the ${i}th message`).toBe(words[i]);
    }
    await ctx.wait("client.shutdown()", client.shutdown());
    await ctx.readsNull("read 3, pending at the end of stream", reads[3]!);
    expect(order, "reads resolved in call order").toEqual([0, 1, 2, 3]);
    await ctx.wait("server.shutdown()", server.shutdown());
    await ctx.readsNull("client reads the end", client.read());
    await ctx.wait("close both", Promise.all([client.close(), server.close()]));
    await ctx.wait("listener.close()", listener.close());
  },
};

const connectSignal: Check = {
  id: "tcp-connect-signal",
  title: "connect({ signal }): an aborted signal rejects with ABORT_ERR; aborting once connected changes nothing",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const port = listener.local.port;
    const aborted = new AbortController();
    aborted.abort(new Error("not wanted"));
    await ctx.rejects(
      "connect with an aborted signal",
      ctx.client.tcp.connect({ address: ctx.serverAddress, port, signal: aborted.signal }),
      "ABORT_ERR",
    );
    const later = new AbortController();
    const { client, server } = await ctx.connect({ listener, connect: { signal: later.signal } });
    later.abort();
    await ctx.wait("client writes after the abort of its connect signal", client.write(text.encode("still here")));
    expect(untext.decode(await readExactly(ctx, server, 10, "server reads"))).toBe("still here");
    await finish(ctx, client, server);
    await ctx.wait("listener.close()", listener.close());
  },
};

const closeUnread: Check = {
  id: "tcp-close-unread",
  title: "close() with unread data (or data arriving after close()) resets: the peer sees ECONNRESET",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    await ctx.wait("server writes 8 KiB the client will not read", server.write(new Uint8Array(8192).fill(7)));
    await ctx.wait("client.close() resolves", client.close());
    const err = await peerResetSeen(ctx, server, "server");
    expect(err.code, "the writer sees ECONNRESET").toBe("ECONNRESET");
    await ctx.wait("server.close()", server.close());
    await ctx.wait("listener.close()", listener.close());
  },
};

const listenerClose: Check = {
  id: "tcp-listener-close",
  title: "listener.close(): accept() gives null, unaccepted connections are reset, accepted ones go on, new connections are refused",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const port = listener.local.port;
    const { client, server } = await ctx.connect({ listener });
    const waiting = await ctx.wait(
      "connect a second client that is never accepted",
      ctx.client.tcp.connect({ address: ctx.serverAddress, port }),
    );
    await ctx.wait("listener.close()", listener.close());
    await ctx.wait("listener.close() again (idempotent)", listener.close());
    await ctx.readsNull("accept() after close()", listener.accept());
    const err = await peerResetSeen(ctx, waiting, "unaccepted client");
    expect(err.code, "a connection never accepted is reset when the listener closes").toBe("ECONNRESET");
    await ctx.wait("unaccepted client close()", waiting.close());
    // The accepted connection is unaffected.
    await ctx.wait("client writes ping", client.write(text.encode("ping")));
    expect(untext.decode(await readExactly(ctx, server, 4, "server reads ping"))).toBe("ping");
    await ctx.wait("server writes pong", server.write(text.encode("pong")));
    expect(untext.decode(await readExactly(ctx, client, 4, "client reads pong"))).toBe("pong");
    await finish(ctx, client, server);
    await ctx.rejects(
      "connect after listener.close()",
      ctx.client.tcp.connect({ address: ctx.serverAddress, port }),
      "ECONNREFUSED",
      { address: ctx.serverAddress, port },
    );
  },
};

const flowIteration: Check = {
  id: "tcp-flow-iteration",
  title: "for await over a flow: yields the chunks, ends at the end of stream, break keeps the flow open, throws the stream's error",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    {
      const { client, server } = await ctx.connect({ listener });
      const words = ["alpha", "beta", "gamma"];
      const writer = ctx.task("client writes", async () => {
        for (const w of words) await ctx.wait(`write ${w}`, client.write(text.encode(w)));
        await ctx.wait("client.shutdown()", client.shutdown());
      });
      const chunks: Uint8Array[] = [];
      for await (const c of server) chunks.push(c);
      expect(untext.decode(concat(chunks)), "iteration yields every byte").toBe(words.join(""));
      await ctx.readsNull("read() after the loop", server.read());
      await writer;
      await ctx.wait("server writes done", server.write(text.encode("done")));
      await ctx.wait("server.shutdown()", server.shutdown());
      expect(untext.decode(await ctx.readToEnd(client, "client reads")), "the server's reply").toBe("done");
      await ctx.wait("close both", Promise.all([client.close(), server.close()]));
    }
    {
      const { client, server } = await ctx.connect({ listener });
      await ctx.wait("client writes first", client.write(text.encode("first")));
      let head: Uint8Array | undefined;
      for await (const c of server) {
        head = c;
        break;
      }
      expect(head, "iteration yielded a chunk before the break").toBeDefined();
      await ctx.wait("client writes second", client.write(text.encode("second")));
      await ctx.wait("client.shutdown()", client.shutdown());
      const rest = await ctx.readToEnd(server, "server reads after break");
      expect(untext.decode(concat([head!, rest])), "break did not close the flow: read() goes on").toBe("firstsecond");
      await ctx.wait("server writes after break", server.write(text.encode("still open")));
      await ctx.wait("server.shutdown()", server.shutdown());
      expect(untext.decode(await ctx.readToEnd(client, "client reads")), "break did not close the flow: write() goes on").toBe("still open");
      await ctx.wait("close both", Promise.all([client.close(), server.close()]));
    }
    {
      const { client, server } = await ctx.connect({ listener });
      const iterating = (async (): Promise<ErrorLike | null> => {
        try {
          for await (const c of server) void c;
          return null;
        } catch (e) {
          return e as ErrorLike;
        }
      })();
      client.abort();
      const failed = iterating.then((r) => (r === null ? new Promise<never>(() => undefined) : r));
      const writeErr = await ctx.provoke(server, failed, "server");
      if (writeErr === undefined) {
        const e = await ctx.wait("the loop throws", failed);
        expect(e.code, "iteration throws the stream's error").toBe("ECONNRESET");
      } else {
        // The write saw the reset first; the loop must throw it too.
        const e = await ctx.wait("the loop throws", iterating);
        expect(e?.code, "iteration throws the stream's error").toBe("ECONNRESET");
      }
      await ctx.wait("close both", Promise.all([client.close(), server.close()]));
    }
    await ctx.wait("listener.close()", listener.close());
  },
};

const listenerIteration: Check = {
  id: "tcp-listener-iteration",
  title: "for await over a listener: yields connections in order, ends on close; a pending accept() gives null on close",
  directional: true,
  async run(ctx) {
    const listener = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const port = listener.local.port;
    const n = 3;
    const iterating = ctx.task("server iterates the listener", async () => {
      const flows: TcpFlow[] = [];
      for await (const f of listener) {
        flows.push(f);
        const i = flows.length - 1;
        void ctx.task(`server answers connection ${i}`, async () => {
          const b = await readExactly(ctx, f, 1, `server ${i}`);
          await ctx.wait(`server ${i} answers`, f.write(b));
        });
      }
      return flows;
    });
    const clients: TcpFlow[] = [];
    for (let i = 0; i < n; i++) {
      const c = await ctx.wait(`connect ${i}`, ctx.client.tcp.connect({ address: ctx.serverAddress, port }));
      clients.push(c);
      await ctx.wait(`client ${i} writes`, c.write(new Uint8Array([i])));
      const back = await readExactly(ctx, c, 1, `client ${i} reads`);
      expect(back[0], `connection ${i} reached its own server flow`).toBe(i);
    }
    await ctx.wait("listener.close()", listener.close());
    const flows = await iterating;
    expect(flows.length, "the loop yielded every connection, then ended on close()").toBe(n);
    flows.forEach((f, i) => expect(f.remote.port, `connection ${i} in arrival order`).toBe(clients[i]!.local.port));
    await ctx.wait(
      "close every connection",
      Promise.all([...clients.map((c) => c.close()), ...flows.map((f) => f.close())]),
    );
    const l2 = await ctx.wait("listen({ port: 0 })", ctx.server.tcp.listen({ port: 0 }));
    const pending = l2.accept();
    await ctx.wait("close a listener with a pending accept()", l2.close());
    await ctx.readsNull("the pending accept()", pending);
  },
};

const stackClose: Check = {
  id: "stack-close",
  title: "Stack.close(): flows abort (ECONNABORTED), pending accept() and recv() give null, the stack refuses new work",
  directional: true,
  async run(ctx) {
    const { client, server, listener } = await ctx.connect();
    const stack = ctx.client;
    const l = await ctx.wait("listen on the stack to close", stack.tcp.listen({ port: 0 }));
    const accepting = l.accept();
    const sock = await ctx.wait("udp.bind() on the stack to close", stack.udp.bind());
    const receiving = sock.recv();
    const reading = client.read();
    reading.catch(() => undefined);
    await ctx.wait(`${ctx.clientName}.close()`, stack.close());
    await ctx.wait(`${ctx.clientName}.close() again (idempotent)`, stack.close());
    await ctx.rejects("the read pending at Stack.close()", reading, "ECONNABORTED");
    await ctx.rejects("write after Stack.close()", client.write(text.encode("x")), "ECONNABORTED");
    await ctx.wait("close() of a flow of a closed stack", client.close());
    await ctx.readsNull("the accept() pending at Stack.close()", accepting);
    await ctx.readsNull("the recv() pending at Stack.close()", receiving);
    for (const [label, op] of [
      ["tcp.listen after Stack.close()", () => stack.tcp.listen({ port: 0 })],
      ["tcp.connect after Stack.close()", () => stack.tcp.connect({ address: ctx.serverAddress, port: listener.local.port })],
      ["udp.bind after Stack.close()", () => stack.udp.bind()],
    ] as const) {
      let err: ErrorLike | undefined;
      try {
        await ctx.wait(label, op() as Promise<unknown>);
      } catch (e) {
        err = e as ErrorLike;
      }
      expect(err, `${label} rejects`).toBeDefined();
      expect(typeof err!.code, `${label}: the error has a code`).toBe("string");
    }
    server.abort();
    await ctx.wait("listener.close()", listener.close());
  },
};

const invalidArguments: Check = {
  id: "invalid-arguments",
  title: "EINVAL for bad arguments to connect, listen, bind and send; EMSGSIZE above 65507 bytes",
  directional: false,
  async run(ctx) {
    for (const [name, stack] of [
      ["a", ctx.pair.a],
      ["b", ctx.pair.b],
    ] as const) {
      const peer = name === "a" ? ctx.pair.addressOfB : ctx.pair.addressOfA;
      const connects: [string, unknown][] = [
        ["a host name", { address: "localhost", port: 80 }],
        ["three octets", { address: "10.0.0", port: 80 }],
        ["port 0", { address: peer, port: 0 }],
        ["port 65536", { address: peer, port: 65536 }],
        ["port 1.5", { address: peer, port: 1.5 }],
        ["port -1", { address: peer, port: -1 }],
      ];
      for (const [what, opts] of connects) {
        await ctx.rejects(`${name}.tcp.connect with ${what}`, stack.tcp.connect(opts as never), "EINVAL");
      }
      const listens: [string, unknown][] = [
        ["port -1", { port: -1 }],
        ["port 65536", { port: 65536 }],
        ["port 1.5", { port: 1.5 }],
        ["a malformed address", { port: 0, address: "not-an-address" }],
      ];
      for (const [what, opts] of listens) {
        await ctx.rejects(`${name}.tcp.listen with ${what}`, stack.tcp.listen(opts as never), "EINVAL");
      }
      for (const [what, opts] of [
        ["port -1", { port: -1 }],
        ["port 65536", { port: 65536 }],
      ] as const) {
        await ctx.rejects(`${name}.udp.bind with ${what}`, stack.udp.bind(opts), "EINVAL");
      }
      const sock = await ctx.wait(`${name}.udp.bind()`, stack.udp.bind());
      const one = new Uint8Array([1]);
      await ctx.rejects(`${name} send to a host name`, sock.send(one, { address: "localhost", port: 9 }), "EINVAL");
      await ctx.rejects(`${name} send to port 0`, sock.send(one, { address: peer, port: 0 }), "EINVAL");
      await ctx.rejects(`${name} send to port 65536`, sock.send(one, { address: peer, port: 65536 }), "EINVAL");
      await ctx.rejects(`${name} send of a string`, sock.send("x" as unknown as Uint8Array, { address: peer, port: 9 }), "EINVAL");
      await ctx.rejects(`${name} send of 65508 bytes`, sock.send(new Uint8Array(65508), { address: peer, port: 9 }), "EMSGSIZE", {
        address: peer,
        port: 9,
      });
      await ctx.wait(`${name} socket close()`, sock.close());
    }
  },
};

export const TCP_ERROR_CHECKS: readonly Check[] = [
  refused,
  portInUse,
  ephemeral,
  flowErrors,
  concurrentReads,
  connectSignal,
  abortAfterClose,
  abort,
  abortError,
  dataBeforeReset,
  closeUnread,
  listenerClose,
  flowIteration,
  listenerIteration,
  stackClose,
  invalidArguments,
];
