// file: docs/examples/notes-app.ts
// A small service written only against @morgana/interfaces: it runs unchanged
// on any Stack. Over TCP it keeps notes with a line protocol; over UDP it
// answers "ping" datagrams.
//
//   PUT <key> <text>  ->  OK
//   GET <key>         ->  NOTE <text>  |  MISSING
//   LIST              ->  KEYS <key> <key> ...
//   QUIT              ->  BYE, then the server closes the connection
//   anything else     ->  ERROR unknown command
import type { Stack, TcpFlow } from "@morgana/interfaces";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Longest line a client may send; a longer one closes the connection. */
const MAX_LINE = 4096;

export interface NotesServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves notes on TCP `port` and pings on UDP `port` of `stack`. */
export async function serveNotes(stack: Stack, port: number): Promise<NotesServer> {
  const notes = new Map<string, string>();
  const listener = await stack.tcp.listen({ port });
  const udp = await stack.udp.bind({ port });

  void (async () => {
    for await (const flow of listener) void session(flow, notes);
  })();
  void (async () => {
    for await (const d of udp) {
      const text = decoder.decode(d.data);
      if (text === "ping") await udp.send(encoder.encode("pong"), { address: d.address, port: d.port });
    }
  })();

  return {
    port,
    async close() {
      await listener.close();
      await udp.close();
    },
  };
}

async function session(flow: TcpFlow, notes: Map<string, string>): Promise<void> {
  try {
    for await (const line of lines(flow)) {
      const [command, key = "", ...rest] = line.split(" ");
      let reply: string;
      if (command === "PUT" && key !== "") (notes.set(key, rest.join(" ")), (reply = "OK"));
      else if (command === "GET") reply = notes.has(key) ? `NOTE ${notes.get(key)}` : "MISSING";
      else if (command === "LIST") reply = ["KEYS", ...[...notes.keys()].sort()].join(" ");
      else if (command === "QUIT") break;
      else reply = "ERROR unknown command";
      await flow.write(encoder.encode(reply + "\n"));
    }
    await flow.write(encoder.encode("BYE\n"));
    await flow.close();
  } catch {
    flow.abort(); // the client went away, or sent a line that was too long
  }
}

/** Splits a flow into text lines (without the "\n"). */
async function* lines(flow: TcpFlow): AsyncGenerator<string> {
  let pending = "";
  for await (const chunk of flow) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
    if (pending.length > MAX_LINE) throw new Error("line too long");
  }
}

/** A client: sends each command, collects each reply, then QUIT. */
export async function talk(stack: Stack, address: string, port: number, commands: readonly string[]): Promise<string[]> {
  const flow = await stack.tcp.connect({ address, port });
  await flow.write(encoder.encode([...commands, "QUIT"].map((c) => c + "\n").join("")));
  let text = "";
  for await (const chunk of flow) text += decoder.decode(chunk, { stream: true });
  await flow.close();
  return text.split("\n").filter((l) => l !== "");
}

/** Sends one UDP "ping" and returns the reply's text. */
export async function ping(stack: Stack, address: string, port: number): Promise<string> {
  const socket = await stack.udp.bind();
  try {
    await socket.send(encoder.encode("ping"), { address, port });
    const reply = await socket.recv();
    return reply === null ? "" : decoder.decode(reply.data);
  } finally {
    await socket.close();
  }
}
