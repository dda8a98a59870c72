// file: docs/examples/run-notes.ts
// One scenario, any pair of stacks: start the notes service on the server
// stack, talk to it from the client stack, and return what the client saw.
import { ping, serveNotes, talk } from "./notes-app.js";
import type { StackPair } from "./stacks.js";

export async function runNotes(pair: StackPair, port = 7070): Promise<string[]> {
  const server = await serveNotes(pair.server, port);
  try {
    const first = await talk(pair.client, pair.serverAddress, port, ["PUT motd hello from any stack", "GET motd", "GET nothing", "FLY"]);
    const second = await talk(pair.client, pair.serverAddress, port, ["PUT todo write once", "LIST"]);
    const pong = await ping(pair.client, pair.serverAddress, port);
    return [...first, ...second, pong];
  } finally {
    await server.close();
  }
}
